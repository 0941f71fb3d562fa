/** Where a view (`onPrimary()`, `onReplica()`) sends its queries and blocks. */
export type RouteTarget =
  | { readonly kind: 'primary' }
  | { readonly kind: 'replica'; readonly index: number | undefined }

/** The primary. */
export const PRIMARY_TARGET: RouteTarget = Object.freeze({ kind: 'primary' })

/** Any replica the balancer picks. */
export const ANY_REPLICA_TARGET: RouteTarget = Object.freeze({ kind: 'replica', index: undefined })

/** A readable name for errors: `the primary`, `replica #1`, `a replica`. */
export function describeTarget(target: RouteTarget): string {
  if (target.kind === 'primary') {
    return 'the primary'
  }
  return target.index === undefined ? 'a replica' : `replica #${target.index}`
}
