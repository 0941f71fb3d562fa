import type { DatabaseConnection } from 'kysely'
import { describe, expect, it } from 'vitest'
import { KnownReplay, type ReplayedPosition } from '../../src/consistency/known-replay.js'

// What read-your-writes remembers of replay positions, so that a read asks a replica only when
// what is known does not already answer. Connections are opaque keys here: nothing runs on them.
const connection = () => ({}) as DatabaseConnection

/** A check whose answer the test gives when it wants, counting how often it ran. */
function pendingCheck() {
  let answer: (replayed: ReplayedPosition) => void = () => {}
  let fail: (error: Error) => void = () => {}
  const check = {
    runs: 0,
    run: () => {
      check.runs++
      return new Promise<ReplayedPosition>((resolve, reject) => {
        answer = resolve
        fail = reject
      })
    },
    answer: (replayed: ReplayedPosition) => answer(replayed),
    fail: (error: Error) => fail(error),
  }
  return check
}

/** A check that answers at once, counting how often it ran. */
function answeringCheck(replayed: ReplayedPosition) {
  const check = {
    runs: 0,
    run: async () => {
      check.runs++
      return replayed
    },
  }
  return check
}

describe('KnownReplay', () => {
  describe('what a connection is known to have replayed', () => {
    it.each<[string, Array<['a' | 'b', ReplayedPosition]>, { a: bigint; b: bigint }]>([
      ['nothing for a connection never checked', [], { a: -1n, b: -1n }],
      [
        'a bare position for its own connection only',
        [['a', { position: 70n }]],
        { a: 70n, b: -1n },
      ],
      [
        'a position that never goes back on one connection',
        [
          ['a', { position: 100n }],
          ['a', { position: 80n }],
        ],
        { a: 100n, b: -1n },
      ],
      [
        'a newer position on one connection',
        [
          ['a', { position: 100n }],
          ['a', { position: 120n }],
        ],
        { a: 120n, b: -1n },
      ],
      [
        "its server's newest position, learnt on another connection to it",
        [
          ['a', { position: 50n, server: 's1' }],
          ['b', { position: 100n, server: 's1' }],
        ],
        { a: 100n, b: 100n },
      ],
      [
        'a server that never goes back either',
        [
          ['a', { position: 100n, server: 's1' }],
          ['b', { position: 40n, server: 's1' }],
          ['b', { position: 60n, server: 's1' }],
        ],
        { a: 100n, b: 100n },
      ],
      [
        'nothing of another server',
        [
          ['a', { position: 100n, server: 's1' }],
          ['b', { position: 30n, server: 's2' }],
        ],
        { a: 100n, b: 30n },
      ],
      [
        "only its new server's position once a connection lands on another server",
        [
          ['a', { position: 100n, server: 's1' }],
          ['a', { position: 30n, server: 's2' }],
        ],
        { a: 30n, b: -1n },
      ],
      [
        'what its own connection saw when that is newer than its server',
        [
          ['a', { position: 90n, server: 's1' }],
          ['a', { position: 95n }],
        ],
        { a: 95n, b: -1n },
      ],
    ])('%s', (_, notes, expected) => {
      const replay = new KnownReplay()
      const connections = { a: connection(), b: connection() }
      for (const [which, replayed] of notes) {
        replay.note(connections[which], replayed)
      }
      expect({ a: replay.of(connections.a), b: replay.of(connections.b) }).toEqual(expected)
    })
  })

  describe('refreshing before a read', () => {
    it('runs the check and keeps its answer', async () => {
      const replay = new KnownReplay()
      const a = connection()
      const check = answeringCheck({ position: 100n, server: 's1' })
      await replay.refresh(a, 100n, check.run)
      expect([check.runs, replay.of(a)]).toEqual([1, 100n])
    })

    /** Two connections known to reach server s1, and a write at 200 recorded. */
    function twoConnectionsOfOneServer() {
      const replay = new KnownReplay()
      const a = connection()
      const b = connection()
      replay.note(a, { position: 10n, server: 's1' })
      replay.note(b, { position: 10n, server: 's1' })
      replay.noteWritten(200n)
      return { replay, a, b }
    }

    it('lets a read of the same server join a check sent after its write', async () => {
      const { replay, a, b } = twoConnectionsOfOneServer()
      const first = pendingCheck()
      const second = answeringCheck({ position: 0n, server: 's1' })
      const reads = [replay.refresh(a, 200n, first.run), replay.refresh(b, 150n, second.run)]
      first.answer({ position: 200n, server: 's1' })
      await Promise.all(reads)
      expect([first.runs, second.runs]).toEqual([1, 0])
      expect(replay.of(b)).toBe(200n)
    })

    it('does not join a check sent before a newer write: its answer may predate it', async () => {
      const { replay, a, b } = twoConnectionsOfOneServer()
      const first = pendingCheck()
      const reads = [replay.refresh(a, 200n, first.run)]
      replay.noteWritten(300n)
      const second = answeringCheck({ position: 300n, server: 's1' })
      reads.push(replay.refresh(b, 300n, second.run))
      first.answer({ position: 200n, server: 's1' })
      await Promise.all(reads)
      expect([first.runs, second.runs]).toEqual([1, 1])
      expect(replay.of(b)).toBe(300n)
    })

    it('keeps the newest write: an older one recorded later lowers nothing', async () => {
      const { replay, a, b } = twoConnectionsOfOneServer()
      replay.noteWritten(150n)
      const first = pendingCheck()
      const second = answeringCheck({ position: 0n, server: 's1' })
      const reads = [replay.refresh(a, 200n, first.run), replay.refresh(b, 200n, second.run)]
      first.answer({ position: 200n, server: 's1' })
      await Promise.all(reads)
      expect([first.runs, second.runs]).toEqual([1, 0])
    })

    it('does not share a check with a connection whose server is not known yet', async () => {
      const replay = new KnownReplay()
      const [a, b, c] = [connection(), connection(), connection()]
      replay.noteWritten(200n)
      const first = pendingCheck()
      const second = pendingCheck()
      const third = answeringCheck({ position: 200n, server: 's1' })
      const reads = [replay.refresh(a, 200n, first.run), replay.refresh(b, 200n, second.run)]
      // c's server is known, but neither a's nor b's was when they started: nothing to join.
      replay.note(c, { position: 10n, server: 's1' })
      reads.push(replay.refresh(c, 200n, third.run))
      first.answer({ position: 200n, server: 's1' })
      second.answer({ position: 200n, server: 's1' })
      await Promise.all(reads)
      expect([first.runs, second.runs, third.runs]).toEqual([1, 1, 1])
    })

    it('checks for itself when the check it joined fails', async () => {
      const { replay, a, b } = twoConnectionsOfOneServer()
      const first = pendingCheck()
      const second = answeringCheck({ position: 200n, server: 's1' })
      const failing = replay.refresh(a, 200n, first.run)
      const joined = replay.refresh(b, 200n, second.run)
      first.fail(new Error('connection reset'))
      await expect(failing).rejects.toThrow('connection reset')
      await joined
      expect([first.runs, second.runs, replay.of(b)]).toEqual([1, 1, 200n])
    })

    it('starts a new check once the last one on the server has answered', async () => {
      const { replay, a, b } = twoConnectionsOfOneServer()
      const first = answeringCheck({ position: 150n, server: 's1' })
      await replay.refresh(a, 200n, first.run)
      const second = answeringCheck({ position: 200n, server: 's1' })
      await replay.refresh(b, 200n, second.run)
      expect([first.runs, second.runs, replay.of(b)]).toEqual([1, 1, 200n])
    })

    it('lets reads join the newest check on a server while an older one is still out', async () => {
      const { replay, a, b } = twoConnectionsOfOneServer()
      const c = connection()
      replay.note(c, { position: 10n, server: 's1' })
      const old = pendingCheck()
      const reads = [replay.refresh(a, 200n, old.run)]
      replay.noteWritten(300n)
      const newer = pendingCheck()
      reads.push(replay.refresh(b, 300n, newer.run))
      // The older check ends first; the newer one is still the one to join.
      old.answer({ position: 200n, server: 's1' })
      await reads[0]
      const third = answeringCheck({ position: 0n, server: 's1' })
      reads.push(replay.refresh(c, 300n, third.run))
      newer.answer({ position: 300n, server: 's1' })
      await Promise.all(reads)
      expect([old.runs, newer.runs, third.runs, replay.of(c)]).toEqual([1, 1, 0, 300n])
    })
  })
})
