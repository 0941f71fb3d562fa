import { expect, test } from 'vitest'
import { runCommand } from '../src/run-command.js'

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length

test('a command that cannot be spawned resolves at once and holds no timer', async () => {
  const before = timers()
  const result = await runCommand('/nonexistent/postgres', ['--version'])
  expect(result.code).toBeNull()
  expect(result.output).toMatch(/ENOENT/)
  expect(timers()).toBe(before)
})

test('a command that runs reports its exit code and output', async () => {
  const before = timers()
  const result = await runCommand('/bin/sh', ['-c', 'echo out; echo err >&2; exit 3'])
  expect(result.code).toBe(3)
  expect(result.output.split('\n').sort()).toEqual(['', 'err', 'out'])
  expect(timers()).toBe(before)
})
