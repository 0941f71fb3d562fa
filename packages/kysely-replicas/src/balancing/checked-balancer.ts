import type { DatabaseNode } from '../nodes/database-node.js'
import type { Balancer } from './balancer.js'
import { BalancerError } from './balancer-error.js'
import { describeValue } from './custom-balancer.js'

/**
 * A caller's own {@link Balancer}, with each pick checked against the candidates it was given:
 * anything else (`undefined`, a name, a node of an earlier call) becomes a
 * {@link BalancerError} that says what came back, instead of a `TypeError` deep in the driver or
 * a read sent to a node that is down.
 *
 * ```ts
 * const balancer = new CheckedBalancer({ pick: () => undefined as never })
 * balancer.pick(replicas) // throws BalancerError: Balancer.pick() returned undefined, …
 * ```
 */
export class CheckedBalancer implements Balancer {
  readonly usesLatency: boolean
  readonly #balancer: Balancer

  constructor(balancer: Balancer) {
    this.#balancer = balancer
    this.usesLatency = balancer.usesLatency === true
  }

  pick(candidates: readonly DatabaseNode[]): DatabaseNode {
    const chosen: unknown = this.#balancer.pick(candidates)
    if (!candidates.includes(chosen as DatabaseNode)) {
      throw new BalancerError(
        `Balancer.pick() returned ${describeValue(chosen)}, which is not one of its candidates. ` +
          'It must return one of the nodes in the array it was given (such as candidates[0]); ' +
          'to pick by name or index, give balancing a function (candidates) => name | index instead.',
      )
    }
    return chosen as DatabaseNode
  }
}
