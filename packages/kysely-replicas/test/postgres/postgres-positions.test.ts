import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely'
import { postgresPositions } from 'kysely-replicas'
import { formatLsn, parseLsn } from 'kysely-replicas/postgres'
import { describe, expect, it } from 'vitest'

/** A connection that answers every query with one row. */
function answering(row: Record<string, unknown>): DatabaseConnection {
  return {
    async executeQuery<R>(_query: CompiledQuery): Promise<QueryResult<R>> {
      return { rows: [row as R] }
    },
    async *streamQuery() {},
  }
}

describe('postgresPositions', () => {
  it('reads the insert position after a write', async () => {
    const position = await postgresPositions.primaryPosition(
      answering({ lsn: '1/2000A58', block: 8192 }),
    )
    expect(position).toBe((1n << 32n) + 0x2000a58n)
  })

  it.each([
    ['a short page header', '0/3002018', 0x3002000n],
    ['a long page header, at the start of a segment', '0/3000028', 0x3000000n],
  ])(
    'lowers a position just past %s to the page boundary, where the last record ended',
    async (_, lsn, expected) => {
      expect(await postgresPositions.primaryPosition(answering({ lsn, block: 8192 }))).toBe(
        expected,
      )
    },
  )

  it('keeps positions elsewhere in a page, and honours the server’s WAL block size', async () => {
    expect(
      await postgresPositions.primaryPosition(answering({ lsn: '0/3002020', block: 8192 })),
    ).toBe(0x3002020n)
    // 0x4018 is 24 bytes into a 16 kB page but not into an 8 kB one … and the other way round.
    expect(
      await postgresPositions.primaryPosition(answering({ lsn: '0/4018', block: 16384 })),
    ).toBe(0x4000n)
    expect(
      await postgresPositions.primaryPosition(answering({ lsn: '0/2018', block: 16384 })),
    ).toBe(0x2018n)
  })

  it('reads a replica’s replay position with the server that answered, and the cluster id', async () => {
    expect(
      await postgresPositions.replayedPosition(
        answering({ lsn: '0/16B3748', server: '127.0.0.1/5433/2026-12-02 06:00:00+00' }),
      ),
    ).toEqual({ position: 0x16b3748n, server: '127.0.0.1/5433/2026-12-02 06:00:00+00' })
    expect(await postgresPositions.clusterId(answering({ id: '7441234567890123456' }))).toBe(
      '7441234567890123456',
    )
  })
})

describe('formatLsn', () => {
  it.each([
    [0n, '0/0'],
    [0x174cf00n, '0/174CF00'],
    [(0x16n << 32n) + 0xb374d848n, '16/B374D848'],
    [(1n << 64n) - 1n, 'FFFFFFFF/FFFFFFFF'],
  ])('writes %s as the server prints it, and parseLsn reads it back', (position, lsn) => {
    expect(formatLsn(position)).toBe(lsn)
    expect(parseLsn(lsn)).toBe(position)
  })

  it.each([-1n, 1n << 64n])('refuses %s, which is no WAL position', (position) => {
    expect(() => formatLsn(position)).toThrow(RangeError)
  })
})
