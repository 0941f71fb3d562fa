import { describe, expect, it } from 'vitest'
import { settingsAtAddress } from '../../src/postgres/settings-at-address.js'

describe('settingsAtAddress', () => {
  it('replaces host and port, keeping the other settings', () => {
    expect(
      settingsAtAddress(
        { host: '10.0.0.1', port: 5432, user: 'app', password: 'pw', max: 5 },
        '10.0.0.4',
        6432,
      ),
    ).toEqual({ host: '10.0.0.4', port: 6432, user: 'app', password: 'pw', max: 5 })
  })

  it('replaces the address in a connection string, which node-postgres prefers', () => {
    const moved = settingsAtAddress(
      { connectionString: 'postgres://app:s3cret@db1.internal:5432/shop?sslmode=require&host=db1' },
      '10.0.0.4',
      6432,
    ) as { connectionString: string }
    expect(moved.connectionString).toBe('postgres://app:s3cret@10.0.0.4:6432/shop?sslmode=require')
    expect(moved).toMatchObject({ host: '10.0.0.4', port: 6432 })
  })

  it('writes an IPv6 address in brackets', () => {
    const moved = settingsAtAddress(
      { connectionString: 'postgresql://app@[::1]:5432/shop' },
      'fd00::4',
      5432,
    ) as {
      connectionString: string
    }
    expect(moved.connectionString).toBe('postgresql://app@[fd00::4]:5432/shop')
  })

  it.each([
    ['a key=value connection string', 'host=db1 user=app password=s3cret dbname=shop'],
    ['a socket path', '/var/run/postgresql'],
  ])('refuses %s, naming no password', (_, connectionString) => {
    const move = () => settingsAtAddress({ connectionString }, '10.0.0.4', 5432)
    expect(move).toThrow(/not a postgres:\/\/user:password@host:port\/database URL/)
    expect(move).not.toThrow(/s3cret/)
  })
})
