import { parseArgs } from 'node:util'
import { PgClusterError } from '../errors.js'
import { PatroniCluster } from '../ha/patroni-cluster.js'
import type { NodeStatus } from '../node-status.js'
import { PgCluster } from '../pg-cluster.js'
import { HELP } from './help.js'
import { formatEnv, formatPatroniStatus, formatStatus } from './output.js'

/** Where the CLI writes, and what else ends a foreground `up` besides a signal. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  /** Ends a foreground `up` as Ctrl-C would; for tests and embedding. */
  readonly signal?: AbortSignal
}

/** Wrong usage: unknown command or option, missing argument. Exit code 2. */
class UsageError extends Error {}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** What an HA cluster supports of the node commands: Patroni decides the rest. */
const HA_NODE_COMMANDS = {
  kill: (cluster: PatroniCluster, node: string) => cluster.kill(node),
  start: (cluster: PatroniCluster, node: string) => cluster.start(node),
} as const

const NODE_COMMANDS = {
  promote: (cluster: PgCluster, node: string) => cluster.promote(node),
  kill: (cluster: PgCluster, node: string) => cluster.kill(node),
  start: (cluster: PgCluster, node: string) => cluster.start(node),
  stop: (cluster: PgCluster, node: string) => cluster.stop(node),
  pause: (cluster: PgCluster, node: string) => cluster.pauseReplay(node),
  resume: (cluster: PgCluster, node: string) => cluster.resumeReplay(node),
  rejoin: (cluster: PgCluster, node: string) => cluster.rejoinAsReplica(node),
} as const

/**
 * The `pg-cluster` command line: `argv` without the `node` and script arguments. Resolves with
 * the exit code: 0 on success, 1 when the operation failed, 2 on wrong usage.
 *
 * ```ts
 * import { main } from './cli/main.js'
 * process.exitCode = await main(['up', '--replicas', '1', '--detach', '--dir', '.pg-cluster'])
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(HELP.main)
      return command === undefined ? 2 : 0
    }
    if (command === 'up') return await up(rest, io)
    if (command === 'down') return await down(rest, io)
    if (command === 'status') return await status(rest, io)
    if (command === 'env') return await env(rest, io)
    if (command === 'delay') return await delay(rest, io)
    if (command === 'add-member') return await addMember(rest, io)
    if (command === 'remove-member') return await removeMember(rest, io)
    if (command === 'switchover') return await switchover(rest, io)
    if (command in NODE_COMMANDS)
      return await nodeCommand(command as keyof typeof NODE_COMMANDS, rest, io)
    throw new UsageError(`Unknown command "${command}".`)
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      io.stderr.write(`pg-cluster: ${(error as Error).message}\nRun pg-cluster --help for usage.\n`)
      return 2
    }
    const message =
      error instanceof PgClusterError || error instanceof AggregateError
        ? (error as Error).message
        : String((error as Error)?.stack ?? error)
    io.stderr.write(`pg-cluster: ${message}\n`)
    return 1
  }
}

async function up(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      replicas: { type: 'string', short: 'r' },
      port: { type: 'string', short: 'p' },
      dir: { type: 'string', short: 'd' },
      database: { type: 'string' },
      'bin-dir': { type: 'string' },
      'os-user': { type: 'string' },
      detach: { type: 'boolean' },
      ha: { type: 'boolean' },
      sync: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return help('up', io)
  if (values.sync && !values.ha) throw new UsageError('--sync is an option of --ha.')
  if (values.ha && values.port !== undefined) {
    throw new UsageError('--port is not available with --ha: free ports are chosen.')
  }
  const started = Date.now()
  const replicas =
    values.replicas === undefined ? undefined : integer('--replicas', values.replicas)
  const cluster = values.ha
    ? await PatroniCluster.start({
        ha: 'patroni',
        replicas,
        dir: values.dir ?? envDir(),
        database: values.database,
        binDir: values['bin-dir'],
        osUser: values['os-user'],
        synchronousMode: values.sync === true,
      })
    : await PgCluster.start({
        replicas,
        port: values.port === undefined ? undefined : integer('--port', values.port),
        dir: values.dir ?? envDir(),
        database: values.database,
        binDir: values['bin-dir'],
        osUser: values['os-user'],
      })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  io.stdout.write(formatEnv(cluster))
  const what = `primary and ${cluster.replicas.length} replica(s) up in ${seconds} s`
  if (values.detach) {
    cluster.detach()
    io.stderr.write(
      `pg-cluster: ${what}, detached.\nStop them with: pg-cluster down --dir ${cluster.dir}\n`,
    )
    return 0
  }
  io.stderr.write(`pg-cluster: ${what}. Ctrl-C stops them and removes ${cluster.dir}.\n`)
  await untilStopRequested(io.signal)
  await cluster.stop()
  io.stderr.write('pg-cluster: stopped.\n')
  return 0
}

async function down(args: string[], io: CliIo): Promise<number> {
  const { values } = parseDirOnly(args)
  if (values.help) return help('down', io)
  const cluster = await attach(requiredDir(values.dir))
  await cluster.stop()
  io.stderr.write(`pg-cluster: stopped and removed ${cluster.dir}.\n`)
  return 0
}

async function status(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string', short: 'd' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return help('status', io)
  const cluster = await attach(requiredDir(values.dir))
  if (cluster instanceof PatroniCluster) {
    const members = await cluster.status()
    io.stdout.write(
      values.json ? `${JSON.stringify(members, null, 2)}\n` : formatPatroniStatus(members),
    )
    return 0
  }
  const nodes: NodeStatus[] = await cluster.status()
  io.stdout.write(values.json ? `${JSON.stringify(nodes, null, 2)}\n` : formatStatus(nodes))
  return 0
}

async function env(args: string[], io: CliIo): Promise<number> {
  const { values } = parseDirOnly(args)
  if (values.help) return help('env', io)
  io.stdout.write(formatEnv(await attach(requiredDir(values.dir))))
  return 0
}

async function delay(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseDirOnly(args, true)
  if (values.help) return help('delay', io)
  const [node, ms, ...extra] = positionals
  if (node === undefined || ms === undefined || extra.length > 0) {
    throw new UsageError('delay takes a node and a number of milliseconds: delay replica1 1500')
  }
  const cluster = await PgCluster.attach(requiredDir(values.dir))
  await cluster.setApplyDelay(node, integer('<ms>', ms))
  io.stderr.write(`pg-cluster: ${node} applies WAL ${ms} ms late.\n`)
  return 0
}

async function nodeCommand(
  command: keyof typeof NODE_COMMANDS,
  args: string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseDirOnly(args, true)
  if (values.help) return help(command, io)
  const [node, ...extra] = positionals
  if (node === undefined || extra.length > 0) {
    throw new UsageError(`${command} takes one node name, e.g. ${command} replica1`)
  }
  const dir = requiredDir(values.dir)
  if (await PatroniCluster.isHaDir(dir)) {
    if (!(command in HA_NODE_COMMANDS)) {
      throw new UsageError(
        `${command} is not available on an HA cluster: Patroni manages roles (kill and start are).`,
      )
    }
    const cluster = await PatroniCluster.attach(dir)
    await HA_NODE_COMMANDS[command as keyof typeof HA_NODE_COMMANDS](cluster, node)
    io.stderr.write(`pg-cluster: ${command} ${node}: done.\n`)
    return 0
  }
  const cluster = await PgCluster.attach(dir)
  await NODE_COMMANDS[command](cluster, node)
  io.stderr.write(`pg-cluster: ${command} ${node}: done.\n`)
  if (command === 'promote' || command === 'rejoin') io.stdout.write(formatEnv(cluster))
  return 0
}

async function addMember(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseDirOnly(args, true)
  if (values.help) return help('add-member', io)
  if (positionals.length > 0) {
    throw new UsageError('add-member takes no node name: the new member is named for you.')
  }
  const cluster = await attach(requiredDir(values.dir))
  const node = await cluster.addMember()
  io.stderr.write(`pg-cluster: add-member: ${node.name} joined on port ${node.port}.\n`)
  io.stdout.write(formatEnv(cluster))
  return 0
}

async function removeMember(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      dir: { type: 'string', short: 'd' },
      'drain-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return help('remove-member', io)
  const [node, ...extra] = positionals
  if (node === undefined || extra.length > 0) {
    throw new UsageError('remove-member takes one node name, e.g. remove-member replica2')
  }
  const drainMs =
    values['drain-ms'] === undefined ? undefined : integer('--drain-ms', values['drain-ms'])
  const cluster = await attach(requiredDir(values.dir))
  if (cluster instanceof PatroniCluster) {
    await cluster.removeMember(node, { drainMs })
    // Removing the leader is a failover: the URLs are printed once there is a leader again.
    await cluster.waitForLeader()
  } else {
    if (drainMs !== undefined) {
      // Nothing tells clients of a plain cluster that a node leaves, so there is no drain.
      throw new UsageError('--drain-ms is an option of HA clusters (up --ha).')
    }
    await cluster.removeMember(node)
  }
  io.stderr.write(`pg-cluster: remove-member ${node}: done.\n`)
  io.stdout.write(formatEnv(cluster))
  return 0
}

async function switchover(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseDirOnly(args, true)
  if (values.help) return help('switchover', io)
  const [candidate, ...extra] = positionals
  if (extra.length > 0) {
    throw new UsageError('switchover takes at most one node name, e.g. switchover replica1')
  }
  const cluster = await attach(requiredDir(values.dir))
  const old = cluster.primary.name
  if (cluster instanceof PatroniCluster) {
    await cluster.switchover(candidate)
  } else {
    // The plain kit has no switchover of its own: promote a replica (the old primary is fenced
    // and retired), then rebuild the old primary as a replica of the new one.
    const target = candidate ?? cluster.replicas.find((node) => node.pid !== undefined)?.name
    if (target === undefined) {
      throw new PgClusterError(
        'No running replica to switch over to; start one first (pg-cluster start <node>).',
      )
    }
    await cluster.promote(target)
    await cluster.rejoinAsReplica(old)
  }
  io.stderr.write(`pg-cluster: switchover: ${old} -> ${cluster.primary.name}.\n`)
  io.stdout.write(formatEnv(cluster))
  return 0
}

/** The cluster in `dir`, of either kind. */
async function attach(dir: string): Promise<PgCluster | PatroniCluster> {
  return (await PatroniCluster.isHaDir(dir)) ? PatroniCluster.attach(dir) : PgCluster.attach(dir)
}

function parseDirOnly(args: string[], allowPositionals = false) {
  return parseArgs({
    args,
    allowPositionals,
    options: {
      dir: { type: 'string', short: 'd' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function help(command: keyof typeof HELP, io: CliIo): number {
  io.stdout.write(HELP[command])
  return 0
}

function envDir(): string | undefined {
  const dir = process.env.PG_CLUSTER_DIR
  return dir === undefined || dir === '' ? undefined : dir
}

function requiredDir(dir: string | undefined): string {
  const found = dir ?? envDir()
  if (found === undefined) {
    throw new UsageError('Which cluster? Pass --dir <dir> or set PG_CLUSTER_DIR.')
  }
  return found
}

function integer(name: string, text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new UsageError(`${name} must be a whole number, not "${text}".`)
  }
  return value
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')
}

/**
 * Until Ctrl-C (or SIGTERM, SIGHUP, or `signal`). Listening here also keeps pg-cluster's own
 * signal handler from re-raising the signal: the CLI stops the cluster and exits with 0.
 */
function untilStopRequested(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    // Signal listeners do not keep Node.js running; a timer does.
    const keepAlive = setInterval(() => {}, 1 << 30)
    const done = () => {
      clearInterval(keepAlive)
      for (const name of STOP_SIGNALS) process.off(name, done)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    for (const name of STOP_SIGNALS) process.on(name, done)
    if (signal?.aborted) done()
    else signal?.addEventListener('abort', done, { once: true })
  })
}
