import { NodeLifecycleError } from '../errors.js'
import type { DatabaseNode } from './database-node.js'

/**
 * Runs a lifecycle step on every node at once. One node's failure does not stop the others (a
 * failed `destroy` must still close the rest); the failures are thrown together, by node name.
 */
export async function runOnEveryNode(
  operation: 'init' | 'destroy',
  nodes: readonly DatabaseNode[],
  step: (node: DatabaseNode) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(nodes.map((node) => step(node)))
  const failures = nodes.flatMap((node, index) => {
    const result = results[index]
    return result?.status === 'rejected' ? [{ node: node.name, error: result.reason }] : []
  })
  if (failures.length > 0) {
    throw new NodeLifecycleError(operation, failures)
  }
}
