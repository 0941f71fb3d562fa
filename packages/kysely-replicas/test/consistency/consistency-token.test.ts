import { describe, expect, it } from 'vitest'
import { decodeToken, encodeToken } from '../../src/consistency/consistency-token.js'

const SECRET = 'a-secret-of-32-characters-or-so!'

describe('consistency tokens', () => {
  it.each([
    { cluster: '7301234567890123456', position: 0x16b374d848n, lastWriteAt: 1_760_000_000_000 },
    { cluster: '7301234567890123456', position: 0n, lastWriteAt: 1 },
    { cluster: '', position: undefined, lastWriteAt: undefined },
    { cluster: 'c', position: undefined, lastWriteAt: 1_760_000_000_000 },
    { cluster: 'c', position: 0xffff_ffff_ffff_ffffn, lastWriteAt: 1_760_000_000_000 },
    { cluster: 'eu west/1 %', position: 42n, lastWriteAt: 5 },
  ])('round-trip $cluster / $position / $lastWriteAt, unsigned and signed', (content) => {
    expect(decodeToken(encodeToken(content, undefined), undefined)).toEqual(content)
    expect(decodeToken(encodeToken(content, SECRET), SECRET)).toEqual(content)
  })

  it('round-trip a cluster id that holds the separator', () => {
    // A custom PositionSource may name its cluster anything, dots included.
    const content = { cluster: 'db.eu-west-1.internal', position: 7n, lastWriteAt: 9 }
    expect(decodeToken(encodeToken(content, undefined), undefined)).toEqual(content)
    expect(decodeToken(encodeToken(content, SECRET), SECRET)).toEqual(content)
  })

  it('are opaque strings of the documented shape', () => {
    const token = encodeToken({ cluster: 'c', position: 255n, lastWriteAt: 36 }, undefined)
    expect(token).toBe('ryw1.c.ff.10')
    expect(encodeToken({ cluster: 'c', position: 255n, lastWriteAt: 36 }, SECRET)).toMatch(
      /^ryw1\.c\.ff\.10\.[A-Za-z0-9_-]{43}$/,
    )
  })

  it.each([
    ['garbage', 'garbage'],
    ['an empty string', ''],
    ['a wrong prefix', 'ryw2.c.ff.10'],
    ['too few parts', 'ryw1.c.ff'],
    ['too many parts', 'ryw1.c.ff.10.mac.more'],
    ['bad hex', 'ryw1.c.xyz.10'],
    ['upper-case hex', 'ryw1.c.FF.10'],
    ['a position over 64 bits', `ryw1.c.${'f'.repeat(17)}.10`],
    ['a bad time', 'ryw1.c.ff.-10'],
    ['a bad escape in the cluster', 'ryw1.%E0%A4%A.ff.10'],
    ['a token too long', `ryw1.${'c'.repeat(600)}.ff.10`],
  ])('reject %s as malformed', (_, token) => {
    expect(decodeToken(token, undefined)).toBe('malformed')
  })

  it('accept a token of up to 512 characters', () => {
    const sized = (length: number) => `ryw1.${'c'.repeat(length - 'ryw1..ff.10'.length)}.ff.10`
    expect(sized(512)).toHaveLength(512)
    expect(decodeToken(sized(512), undefined)).toMatchObject({ position: 255n, lastWriteAt: 36 })
    expect(decodeToken(sized(513), undefined)).toBe('malformed')
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an array', ['ryw1', 'c', 'ff', '10']],
    ['an object', { toString: () => 'ryw1.c.ff.10' }],
  ])('reject %s (not a string) as malformed', (_, token) => {
    expect(decodeToken(token, undefined)).toBe('malformed')
    expect(decodeToken(token, SECRET)).toBe('malformed')
  })

  describe('with a secret', () => {
    const genuine = encodeToken({ cluster: 'c', position: 255n, lastWriteAt: 36 }, SECRET)

    it('accept their own tokens', () => {
      expect(decodeToken(genuine, SECRET)).toEqual({
        cluster: 'c',
        position: 255n,
        lastWriteAt: 36,
      })
    })

    it('reject a forged position, cluster or time (bad MAC)', () => {
      const [prefix, cluster, position, time, mac] = genuine.split('.')
      const forged = [
        [prefix, cluster, 'ffff', time, mac],
        [prefix, 'other', position, time, mac],
        [prefix, cluster, position, 'zz', mac],
      ]
      for (const parts of forged) {
        expect(decodeToken(parts.join('.'), SECRET)).toBe('bad-signature')
      }
    })

    it('reject a token signed with another secret, an unsigned one, and a mangled MAC', () => {
      const content = { cluster: 'c', position: 255n, lastWriteAt: 36 }
      expect(decodeToken(encodeToken(content, `${SECRET}-other`), SECRET)).toBe('bad-signature')
      expect(decodeToken(encodeToken(content, undefined), SECRET)).toBe('bad-signature')
      expect(decodeToken(`${genuine.slice(0, -1)}A`, SECRET)).toBe('bad-signature')
      expect(decodeToken(`${genuine}A`, SECRET)).toBe('bad-signature')
      expect(decodeToken(`${genuine.slice(0, genuine.lastIndexOf('.'))}.`, SECRET)).toBe(
        'bad-signature',
      )
    })

    it('still call a token of the wrong shape malformed', () => {
      expect(decodeToken('garbage', SECRET)).toBe('malformed')
      expect(decodeToken('ryw2.c.ff.10.mac', SECRET)).toBe('malformed')
    })
  })

  it('without a secret, accept a signed token without checking it', () => {
    const signed = encodeToken({ cluster: 'c', position: 1n, lastWriteAt: 2 }, SECRET)
    expect(decodeToken(signed, undefined)).toEqual({ cluster: 'c', position: 1n, lastWriteAt: 2 })
  })
})
