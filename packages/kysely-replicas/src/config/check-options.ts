import { InvalidConfigError } from '../errors.js'

/**
 * Every option name of an options type, each set to `true`. Typed this way, a list misses no
 * option and names none that does not exist: adding an option to the type fails the build until
 * it is added to its list.
 *
 * ```ts
 * const HEALTH_OPTIONS: OptionNames<HealthConfig> = { probeIntervalMs: true, … }
 * ```
 */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true }

/**
 * Throws an {@link InvalidConfigError} for the first own key of `options` that is not one of
 * `names`, suggesting the closest name, so that a misspelled option fails at once instead of
 * being ignored.
 *
 * ```ts
 * checkOptionNames({ replica: [] }, REPLICATED_DIALECT_OPTIONS, 'ReplicatedDialect')
 * // ReplicatedDialect has no option 'replica'; did you mean 'replicas'? The options are: primary, replicas, …
 * ```
 */
export function checkOptionNames<T>(options: object, names: OptionNames<T>, where: string): void {
  const known = Object.keys(names)
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(names, key)) {
      throw new InvalidConfigError(
        unknownNameMessage(`${where} has no option`, key, known, 'options'),
      )
    }
  }
}

/**
 * Throws an {@link InvalidConfigError} unless `config` is a plain object whose keys are all
 * option names (see {@link checkOptionNames}); `expected` says what was wanted instead.
 *
 * ```ts
 * checkOptionsObject([], HEDGE_OPTIONS, 'hedge', 'false or an object such as { budget: 0.05 }')
 * // hedge must be false or an object such as { budget: 0.05 }; its options are budget, minDelayMs, percentile.
 * ```
 */
export function checkOptionsObject<T>(
  config: unknown,
  names: OptionNames<T>,
  where: string,
  expected: string,
): asserts config is object {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidConfigError(
      `${where} must be ${expected}; its options are ${Object.keys(names).join(', ')}.`,
    )
  }
  checkOptionNames(config, names, where)
}

/**
 * The message for a name that is not one of `names`: what was asked, the closest name if one is
 * close enough to be a typo, and every name.
 *
 * ```ts
 * unknownNameMessage('There is no event', 'nodedown', ['node-down', 'node-up'], 'events')
 * // There is no event 'nodedown'; did you mean 'node-down'? The events are: node-down, node-up.
 * ```
 */
export function unknownNameMessage(
  subject: string,
  name: string,
  names: readonly string[],
  plural: string,
): string {
  const closest = closestName(name, names)
  const hint = closest === undefined ? '.' : `; did you mean '${closest}'?`
  return `${subject} '${name}'${hint} The ${plural} are: ${names.join(', ')}.`
}

/**
 * The name `name` most likely stands for, or `undefined` when none is close enough: the nearest
 * one within one edit per three characters (at least one), else the first one it abbreviates
 * (`secs` for `seconds`: same first letter, its letters in order). Case is ignored.
 *
 * ```ts
 * closestName('replica', ['primary', 'replicas']) // 'replicas'
 * closestName('pool', ['primary', 'replicas']) // undefined
 * ```
 */
export function closestName(name: string, names: readonly string[]): string | undefined {
  const wanted = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of names) {
    const distance = editDistance(wanted, candidate.toLowerCase())
    const allowed = Math.max(1, Math.floor(Math.max(wanted.length, candidate.length) / 3))
    if (distance <= allowed && distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best ?? names.find((candidate) => abbreviates(wanted, candidate.toLowerCase()))
}

function abbreviates(short: string, long: string): boolean {
  if (short.length < 3 || short[0] !== long[0]) {
    return false
  }
  let at = 0
  for (const char of long) {
    if (char === short[at]) {
      at++
    }
  }
  return at >= short.length
}

/**
 * The optimal string alignment distance: insertions, deletions, substitutions and swaps of two
 * neighbouring characters each cost one. Swaps matter for typos (`wieght`), which plain
 * Levenshtein counts as two edits.
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the dynamic-programming table: the swap looks two rows back.
  let beforePrevious: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let distance = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      )
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, (beforePrevious[j - 2] as number) + 1)
      }
      current.push(distance)
    }
    beforePrevious = previous
    previous = current
  }
  return previous[b.length] as number
}
