/** What must not outlive the process that started a cluster. */
export interface CleanupState {
  readonly clusters: ReadonlyArray<{
    /** The data directories whose servers are killed. */
    readonly dataDirs: readonly string[]
    /** The directory removed afterwards, if any. */
    readonly removeDir: string | undefined
  }>
}

/**
 * A standalone Node.js program (CommonJS, run with `node -e`) that reads `CleanupState` JSON
 * lines on stdin and, when stdin ends, SIGKILLs every server of the last state and removes the
 * directories. Run two ways with the same code:
 *
 * - as a watchdog, for the whole life of the process that started clusters: stdin ends when that
 *   process dies, however it dies (even SIGKILL, when no exit handler runs);
 * - synchronously from an `'exit'` handler, with the state as its whole input.
 *
 * Servers are found by their working directory (a postmaster and all its children run in the
 * data directory) on Linux, which catches children that lost their postmaster and never hits a
 * recycled PID; elsewhere by the PID in `postmaster.pid`, checked to be a postgres process.
 */
export const CLEANUP_SCRIPT = String.raw`
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
process.on('SIGINT', () => {})
process.on('SIGHUP', () => {})
let state = { clusters: [] }
let buffer = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  buffer += chunk
  let end
  while ((end = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, end)
    buffer = buffer.slice(end + 1)
    if (line.trim() !== '') state = JSON.parse(line)
  }
})
process.stdin.on('error', cleanUp)
process.stdin.on('end', cleanUp)

function cleanUp() {
  const dataDirs = state.clusters.flatMap((cluster) => cluster.dataDirs)
  const pids = dataDirs.length === 0 ? [] : serverPids(dataDirs)
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  const deadline = Date.now() + 5000
  while (pids.some(alive) && Date.now() < deadline) pause(20)
  for (const cluster of state.clusters) {
    if (cluster.removeDir) {
      try { fs.rmSync(cluster.removeDir, { recursive: true, force: true, maxRetries: 3 }) } catch {}
    }
  }
  process.exit(0)
}

// The HA mode's Patroni and etcd run in the cluster's directory too; Patroni would restart a
// server killed without it.
const SERVERS = ['postgres', 'patroni', 'etcd']

function serverPids(dataDirs) {
  const roots = dataDirs.map((dir) => { try { return fs.realpathSync(dir) } catch { return dir } })
  if (process.platform === 'linux') {
    const pids = []
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        if (!SERVERS.includes(fs.readFileSync('/proc/' + entry + '/comm', 'utf8').trim())) continue
        const cwd = fs.readlinkSync('/proc/' + entry + '/cwd')
        if (roots.some((root) => cwd === root || cwd.startsWith(root + path.sep))) pids.push(Number(entry))
      } catch {}
    }
    return pids
  }
  const pids = []
  for (const dir of dataDirs) {
    try {
      const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0])
      const command = execFileSync('ps', ['-p', String(pid), '-o', 'comm='], { encoding: 'utf8' })
      if (command.includes('postgres')) pids.push(pid)
    } catch {}
  }
  return pids
}

function alive(pid) {
  try { process.kill(pid, 0) } catch { return false }
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch { return process.platform !== 'linux' }
}

function pause(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
`
