import type { ReadYourWritesConfig, ReadYourWritesOptions } from './read-your-writes-config.js'

/**
 * The read-your-writes mode of a dialect, and why it is that one: `position` (reads wait for a
 * replica that has the scope's last write), `sticky` (reads go to the primary for a while after
 * a write) or `off`.
 *
 * ```ts
 * const { mode, reason } = replicationOf(db).readYourWritesMode
 * if (mode !== 'position') log.warn(`read-your-writes is ${mode}: ${reason}`)
 * ```
 */
export interface ReadYourWritesMode {
  /** The mode in use: `position`, `sticky` or `off`. */
  readonly mode: 'position' | 'sticky' | 'off'
  /** Why, in words: what the config said or what the primary's dialect looked like. */
  readonly reason: string
}

/**
 * Says why `options` (normalized from `config`) got its mode; `byDefault` is why the default
 * position source is there or not (what the primary's dialect looked like).
 */
export function describeReadYourWritesMode(
  config: ReadYourWritesConfig | false | undefined,
  options: ReadYourWritesOptions | undefined,
  byDefault: string,
): ReadYourWritesMode {
  if (options === undefined) {
    return Object.freeze({ mode: 'off', reason: 'readYourWrites is false in the config' })
  }
  // Only `false` turns it off: here the config is an object or unset.
  const given = config || undefined
  const reason =
    given?.mode !== undefined
      ? `readYourWrites.mode is '${given.mode}' in the config`
      : given?.positions !== undefined
        ? 'readYourWrites.positions is set in the config'
        : byDefault
  return Object.freeze({ mode: options.mode, reason })
}
