import type { DatabaseNode } from '../nodes/database-node.js'

/** Chooses the replica that serves the next read among the candidates (never empty). */
export interface Balancer {
  pick(candidates: readonly DatabaseNode[]): DatabaseNode
}
