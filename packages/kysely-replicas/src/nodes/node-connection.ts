import type { DatabaseConnection } from 'kysely'
import type { DatabaseNode } from './database-node.js'

/** A connection of one node's own driver, with the node it came from. */
export interface NodeConnection {
  readonly node: DatabaseNode
  readonly connection: DatabaseConnection
}
