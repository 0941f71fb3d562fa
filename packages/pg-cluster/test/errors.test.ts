import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BinariesNotFoundError,
  DirectoryNotEmptyError,
  PgCluster,
  PortInUseError,
  StateFileError,
} from '@kysely-replicas/pg-cluster'
import { afterAll, expect, test } from 'vitest'
import { main } from '../src/cli/main.js'

const scratch = mkdtempSync(join(tmpdir(), 'pg-cluster-errors-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

test('a taken port is a PortInUseError naming the port', async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  try {
    const error = await PgCluster.start({ replicas: 0, port }).catch((e) => e)
    expect(error).toBeInstanceOf(PortInUseError)
    expect(error).toMatchObject({ port })
    expect(error.message).toMatch(new RegExp(`Port ${port} on 127.0.0.1 is already in use`))

    let stderr = ''
    const code = await main(['up', '--port', String(port)], {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
    })
    expect(code).toBe(1)
    expect(stderr).toMatch(/already in use/)
  } finally {
    server.close()
  }
})

test('a directory that is not empty is a DirectoryNotEmptyError and is left alone', async () => {
  const dir = join(scratch, 'full')
  mkdirSync(dir)
  writeFileSync(join(dir, 'keep.txt'), 'mine')
  await expect(PgCluster.start({ dir })).rejects.toThrow(DirectoryNotEmptyError)
  await expect(PgCluster.start({ dir })).rejects.toThrow(/is not empty/)
  await expect(PgCluster.start({ dir: join(dir, 'keep.txt') })).rejects.toThrow(
    DirectoryNotEmptyError,
  )
})

test('a binDir without PostgreSQL is a BinariesNotFoundError', async () => {
  await expect(PgCluster.start({ binDir: scratch })).rejects.toThrow(BinariesNotFoundError)
  await expect(PgCluster.start({ binDir: scratch })).rejects.toThrow(/No executable initdb/)
})

test('attaching where no cluster runs is a StateFileError', async () => {
  await expect(PgCluster.attach(scratch)).rejects.toThrow(StateFileError)
})
