import type { Driver } from 'kysely'

/** Whether a node takes writes. */
export type NodeRole = 'primary' | 'replica'

/** One database server behind the dialect, with the driver of its own dialect. */
export interface DatabaseNode {
  readonly name: string
  readonly role: NodeRole
  /** The 0-based position among the replicas; -1 for the primary. */
  readonly index: number
  readonly weight: number
  readonly driver: Driver
}
