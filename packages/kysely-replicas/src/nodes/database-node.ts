import type { Driver } from 'kysely'
import type { NodeHealth } from '../health/node-health.js'
import type { NodeStats } from './node-stats.js'

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
  readonly stats: NodeStats
  readonly health: NodeHealth
}
