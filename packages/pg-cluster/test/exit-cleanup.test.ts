import { existsSync } from 'node:fs'
import { expect, test } from 'vitest'
import {
  eventually,
  pidExists,
  postgresProcessesIn,
  spawnTs,
  waitForOutput,
} from './test-helpers.js'

// Each case runs a cluster in a child process and ends that process another way; nothing of
// the cluster may survive it. The child's servers are not its children once it is gone, so
// PID 1 reaps them; some (container init shims) take a second or two.
const endings = [
  { how: 'SIGKILL, caught by the orphan watchdog', env: 'wait', signal: 'SIGKILL' },
  { how: 'SIGTERM, caught by the signal handler', env: 'wait', signal: 'SIGTERM' },
  { how: 'process.exit(), caught by the exit handler', env: 'exit', signal: undefined },
] as const

test.concurrent.each(endings)(
  'a process that ends by $how leaves nothing behind',
  async (ending) => {
    const child = spawnTs(['test/fixtures/start-cluster.ts'], { HOW: ending.env })
    const exited = new Promise<unknown>((resolve) => child.once('exit', resolve))
    const { dir, pids } = JSON.parse(await waitForOutput(child.stdout, /\n/)) as {
      dir: string
      pids: number[]
    }
    expect(pids).toHaveLength(2)
    expect(pids.every(pidExists)).toBe(true)
    if (ending.signal !== undefined) child.kill(ending.signal)
    await exited

    await eventually(
      () => !existsSync(dir) && postgresProcessesIn(dir).length === 0 && !pids.some(pidExists),
      15_000,
    )
  },
)
