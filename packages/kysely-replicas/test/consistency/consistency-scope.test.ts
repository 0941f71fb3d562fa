import { describe, expect, it } from 'vitest'
import { ConsistencyScope } from '../../src/consistency/consistency-scope.js'

type Step = ['write', bigint | undefined, number] | ['clamp', bigint]

// What a scope must read at after its writes: the highest position any of them reached, and
// whether the last one's position is unknown (its reads then stay on the primary for a while).
describe('ConsistencyScope', () => {
  it.each<[string, ConsistencyScope, Step[], [bigint | undefined, number | undefined, boolean]]>([
    ['a scope that wrote nothing', new ConsistencyScope(), [], [undefined, undefined, false]],
    [
      'keeps the highest position, whatever the order of the writes',
      new ConsistencyScope(),
      [
        ['write', 0x500n, 1],
        ['write', 0x300n, 2],
      ],
      [0x500n, 2, false],
    ],
    [
      'a write whose position is unknown leaves the last position and is unplaced',
      new ConsistencyScope(),
      [
        ['write', 0x500n, 1],
        ['write', undefined, 2],
      ],
      [0x500n, 2, true],
    ],
    [
      'a placed write after an unplaced one places the scope again',
      new ConsistencyScope(),
      [
        ['write', undefined, 1],
        ['write', 0x10n, 2],
      ],
      [0x10n, 2, false],
    ],
    [
      'a token with a position and a time is placed',
      new ConsistencyScope(0x40n, 7),
      [],
      [0x40n, 7, false],
    ],
    [
      'a token with a time and no position is unplaced',
      new ConsistencyScope(undefined, 7),
      [],
      [undefined, 7, true],
    ],
    [
      'clamping lowers a position beyond what exists',
      new ConsistencyScope(0x900n, 7),
      [['clamp', 0x600n]],
      [0x600n, 7, false],
    ],
    [
      'clamping never raises a position',
      new ConsistencyScope(0x100n, 7),
      [['clamp', 0x600n]],
      [0x100n, 7, false],
    ],
    [
      'clamping gives no position to a scope that has none',
      new ConsistencyScope(undefined, 7),
      [['clamp', 0x600n]],
      [undefined, 7, true],
    ],
  ])('%s', (_, scope, steps, [position, lastWriteAt, unplaced]) => {
    for (const step of steps) {
      if (step[0] === 'write') {
        scope.noteWrite(step[1], step[2])
      } else {
        scope.clamp(step[1])
      }
    }
    expect([scope.position, scope.lastWriteAt, scope.lastWriteUnplaced]).toEqual([
      position,
      lastWriteAt,
      unplaced,
    ])
  })
})
