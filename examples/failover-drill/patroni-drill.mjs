// A failover drill under Patroni. Run from the repository root after `pnpm build`, on a machine
// with Patroni and etcd (scripts/install-ha.sh):
//   pnpm --filter @kysely-replicas/example-failover-drill patroni [-- --runs 3]
// Nobody promotes anything: the leader's whole host (its Patroni and its PostgreSQL) is killed
// under 4 writers and 8 readers, and Patroni elects another leader once the dead one's key
// expires (ttl 10 s). Each run kills the current leader and brings it back as a replica, then
// adds a member to the running cluster (it must get reads with no restart) and takes it out
// again (it must be drained: no read fails).
import { parseArgs } from 'node:util'
import { PgCluster } from '@kysely-replicas/pg-cluster'
import { Kysely, sql } from 'kysely'
import { isConnectionError, NoPrimaryError, replicationOf } from 'kysely-replicas'
import { createPostgresReplicatedDialect, patroniTopology } from 'kysely-replicas/postgres'
import pg from 'pg'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } })
const RUNS = Number(values.runs)
const WRITERS = 4
const READERS = 8
const STEADY_MS = 2000

const started = performance.now()
const clock = (at = performance.now()) => `${String(Math.round(at - started)).padStart(7)} ms`
const log = (message) => console.log(`${clock()}  ${message}`)
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const serverPort = sql`inet_server_port()`.as('port')

// synchronous_mode: a commit is acknowledged once the synchronous standby has it, and only that
// standby may be promoted: the RPO must be 0.
const cluster = await PgCluster.start({ ha: 'patroni', replicas: 2, synchronousMode: true })
let db
let exitCode = 0
const results = []
try {
  log(
    `Patroni cluster up: ${cluster.nodes.map((n) => `${n.name}:${n.port}`).join(', ')}; leader ${cluster.primary.name}`,
  )
  db = new Kysely({
    dialect: createPostgresReplicatedDialect({
      Pool: pg.Pool,
      // Named after the Patroni members: that is how the monitor matches them.
      nodes: cluster.nodes.map((node) => ({ name: node.name, ...node.poolConfig() })),
      poolOptions: { max: WRITERS + READERS },
      monitor: patroniTopology({ urls: cluster.nodes.map((node) => node.patroniUrl) }),
      health: { probeIntervalMs: 100, maxProbeIntervalMs: 500 },
    }),
  })
  const replication = replicationOf(db)
  const promotedAt = new Map()
  replication.on('role-change', ({ node, from, to }) => {
    if (to === 'primary') promotedAt.set(node, performance.now())
    log(`  event role-change: ${node} ${from} -> ${to}`)
  })
  const removedAt = new Map()
  replication.on('node-added', ({ node }) => log(`  event node-added: ${node}`))
  replication.on('node-removed', ({ node }) => {
    removedAt.set(node, performance.now())
    log(`  event node-removed: ${node} (drained, then its pool ended)`)
  })
  replication.on('lag', ({ node, excluded }) =>
    log(`  event lag: ${node} ${excluded ? 'gets no reads' : 'serves reads again'}`),
  )
  await db.schema
    .createTable('drill_ha_write')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .execute()

  let next = 1
  for (let run = 1; run <= RUNS; run++) {
    console.log(`\n--- run ${run} of ${RUNS}`)
    results.push(await drill(run))
  }

  console.log('\n--- summary')
  console.table(results)
  const bad = results.filter(
    (r) =>
      r.lostWrites !== 0 || r.failedReads !== 0 || r['reads sent to leaver after removal'] !== 0,
  )
  if (bad.length > 0) exitCode = 1

  async function drill(run) {
    const load = startLoad()
    await pause(STEADY_MS)
    const old = cluster.primary
    await cluster.kill(old)
    const killedAt = performance.now()
    log(
      `killed ${old.name}'s Patroni and PostgreSQL (SIGKILL), ${load.acked.length} writes acknowledged so far`,
    )

    const { leader, at: leaderAt } = await watchForLeader(old.name)
    log(`Patroni lists ${leader} as the running leader`)
    // Acknowledged once Patroni had a new leader: the old one is dead, so by the new one. (After
    // the kill only, a write the dead leader acknowledged just before could be counted.)
    const firstWrite = await until(
      () => load.acked.find((write) => write.at > leaderAt),
      'acknowledged write on the new leader',
    )
    log(`first acknowledged write through the dialect (on ${leader})`)

    await cluster.start(old)
    const rejoinedAt = performance.now()
    log(`${old.name} back: streaming from ${leader} (Patroni lists it on the new timeline)`)
    const firstRead = await until(
      () => load.readsOn(old.port).find((at) => at > rejoinedAt),
      `read served by ${old.name}`,
    )
    log(`first read served by ${old.name} again`)

    // A host joins the running cluster: the dialect must give it reads with no restart.
    const known = new Set(cluster.nodes.map((node) => node.name))
    const streaming = watchStreaming(known)
    const joined = await cluster.addMember()
    const { at: joinedAt } = await streaming
    log(`${joined.name} joined: Patroni lists it, its walreceiver streams from ${leader}`)
    const joinedRead = await until(
      () => load.readsOn(joined.port).find((at) => at > joinedAt - 2000),
      `read served by ${joined.name}`,
    )
    log(`first read served by ${joined.name}`)
    // ... and leaves: drained (reads under way finish), then its server stops.
    await cluster.removeMember(joined, { drainMs: 2000 })
    const leftAt = performance.now()
    log(`${joined.name} left: dropped by Patroni, drained, its server stopped`)
    await pause(1000)
    await load.stop()

    const rows = await cluster.query(leader, 'select id from drill_ha_write')
    const stored = new Set(rows.map((row) => row.id))
    const lost = load.acked.filter((write) => !stored.has(write.id))
    const result = {
      run,
      killed: old.name,
      leader,
      'patroni RTO ms': Math.round(leaderAt - killedAt),
      'library share ms': Math.round(firstWrite.at - leaderAt),
      // The library's share, split: Patroni names the leader -> the dialect sends it writes.
      'listed -> role-change ms': Math.round((promotedAt.get(leader) ?? Number.NaN) - leaderAt),
      'total RTO ms': Math.round(firstWrite.at - killedAt),
      ackedWrites: load.acked.length,
      lostWrites: lost.length,
      refusedWrites: load.refused,
      inFlightWrites: load.inFlight,
      reads: load.reads(),
      failedReads: load.failedReads.length,
      'rejoin -> read ms': Math.round(firstRead - rejoinedAt),
      'join -> read ms': Math.round(joinedRead - joinedAt),
      // Reads sent to the member after the dialect took it out of rotation: must be 0.
      'reads sent to leaver after removal': load
        .startsOn(joined.port)
        .filter((at) => at > (removedAt.get(joined.name) ?? Number.POSITIVE_INFINITY)).length,
    }
    console.log(
      [
        `timeline of run ${run}:`,
        `  ${clock(killedAt)}  kill ${old.name} (leader)`,
        `  ${clock(leaderAt)}  Patroni: ${leader} leader        (+${result['patroni RTO ms']} ms, Patroni's share)`,
        `  ${clock(firstWrite.at)}  first acknowledged write   (+${result['library share ms']} ms, the library's share)`,
        `  ${clock(rejoinedAt)}  ${old.name} streams as a replica`,
        `  ${clock(firstRead)}  ${old.name} serves a read        (+${result['rejoin -> read ms']} ms)`,
        `  ${clock(joinedAt)}  ${joined.name} joins, streaming`,
        `  ${clock(joinedRead)}  ${joined.name} serves a read        (${result['join -> read ms'] >= 0 ? '+' : ''}${result['join -> read ms']} ms)`,
        `  ${clock(removedAt.get(joined.name))}  ${joined.name} out of Patroni's list: no new reads, drained (node-removed)`,
        `  ${clock(leftAt)}  ${joined.name}'s server stopped`,
        `  writes sent to the dead leader: ${load.inFlight} (connection errors); refused while no leader: ${load.refused} (NoPrimaryError)`,
        `  RPO: ${lost.length} of ${load.acked.length} acknowledged writes missing; ` +
          `${load.failedReads.length} of ${load.reads()} reads failed` +
          (load.failedReads.length > 0 ? ` (first: ${load.failedReads[0]})` : ''),
      ].join('\n'),
    )
    return result
  }

  function startLoad() {
    const acked = []
    const counts = { refused: 0, inFlight: 0 }
    const failedReads = []
    const readTimes = new Map()
    let reads = 0
    let running = true
    const writers = Array.from({ length: WRITERS }, async () => {
      while (running) {
        const id = next++
        try {
          await db.insertInto('drill_ha_write').values({ id }).execute()
          acked.push({ id, at: performance.now() })
        } catch (error) {
          if (error instanceof NoPrimaryError) counts.refused++
          else if (isConnectionError(error)) counts.inFlight++
          else throw error
          await pause(10)
        }
      }
    })
    const readers = Array.from({ length: READERS }, async () => {
      while (running) {
        const startedAt = performance.now()
        try {
          const { port } = await db.selectNoFrom(serverPort).executeTakeFirstOrThrow()
          reads++
          if (!readTimes.has(port)) readTimes.set(port, [])
          readTimes.get(port).push({ startedAt, at: performance.now() })
        } catch (error) {
          failedReads.push(String(error))
          await pause(10)
        }
      }
    })
    return {
      acked,
      failedReads,
      reads: () => reads,
      readsOn: (port) => (readTimes.get(port) ?? []).map((read) => read.at),
      startsOn: (port) => (readTimes.get(port) ?? []).map((read) => read.startedAt),
      get refused() {
        return counts.refused
      },
      get inFlight() {
        return counts.inFlight
      },
      stop: async () => {
        running = false
        await Promise.all([...writers, ...readers])
      },
    }
  }
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  await db?.destroy()
  await cluster.stop()
}
process.exitCode = exitCode

/** Polls Patroni's /cluster (any node) until a running leader other than `old` is listed. */
async function watchForLeader(old) {
  for (;;) {
    for (const node of cluster.nodes) {
      try {
        const response = await fetch(`${node.patroniUrl}/cluster`, {
          signal: AbortSignal.timeout(500),
        })
        const { members } = await response.json()
        const leader = members.find((m) => m.role === 'leader' && m.state === 'running')
        if (leader !== undefined && leader.name !== old) {
          return { leader: leader.name, at: performance.now() }
        }
        break
      } catch {}
    }
    await pause(20)
  }
}

/**
 * Polls Patroni's /cluster and the leader's pg_stat_replication (Patroni 3.0 says `running` of a
 * replica before it streams) until a member not in `known` streams on the leader's timeline.
 */
async function watchStreaming(known) {
  const leader = await cluster.waitForLeader()
  for (;;) {
    try {
      const { members } = await (
        await fetch(`${leader.patroniUrl}/cluster`, { signal: AbortSignal.timeout(500) })
      ).json()
      const head = members.find((m) => m.name === leader.name)
      const rows = await cluster.query(
        leader,
        `select application_name as name from pg_stat_replication where state = 'streaming'`,
      )
      const streams = new Set(rows.map((row) => row.name))
      const member = members.find(
        (m) => !known.has(m.name) && streams.has(m.name) && m.timeline === head?.timeline,
      )
      if (member !== undefined) return { name: member.name, at: performance.now() }
    } catch {}
    await pause(20)
  }
}

/** Polls `find` until it returns something; gives up after a minute. */
async function until(find, what) {
  const deadline = performance.now() + 60_000
  for (;;) {
    const found = find()
    if (found !== undefined) return found
    if (performance.now() > deadline) throw new Error(`no ${what} within 60 s`)
    await pause(5)
  }
}
