import type { CompiledQuery } from 'kysely'
import type { Balancer } from '../balancing/balancer.js'
import { ReplicaWriteError } from '../errors.js'
import type { DatabaseNode } from '../nodes/database-node.js'
import { type ClassifyOptions, classifyQuery, type QueryClassification } from './classify-query.js'
import type { RouteTarget } from './route-target.js'

/** Knows the nodes and picks the one that serves a query or a block. */
export class NodeRouter {
  readonly primary: DatabaseNode
  readonly replicas: readonly DatabaseNode[]
  readonly #balancer: Balancer
  readonly #classifyOptions: ClassifyOptions

  constructor(
    primary: DatabaseNode,
    replicas: readonly DatabaseNode[],
    balancer: Balancer,
    classifyOptions: ClassifyOptions,
  ) {
    this.primary = primary
    this.replicas = replicas
    this.#balancer = balancer
    this.#classifyOptions = classifyOptions
  }

  /** Whether the query may run on a hot standby, and why not when it may not. */
  classify(query: CompiledQuery): QueryClassification {
    return classifyQuery(query.query, this.#classifyOptions)
  }

  /** The node for a query with no routing asked for: reads to a replica, the rest to the primary. */
  nodeForQuery(query: CompiledQuery): DatabaseNode {
    return this.classify(query).access === 'read' ? this.#anyReplica() : this.primary
  }

  /** The node a view asked for. An index was validated when the view was made. */
  nodeForTarget(target: RouteTarget): DatabaseNode {
    if (target.kind === 'primary') {
      return this.primary
    }
    if (target.index === undefined) {
      return this.#anyReplica()
    }
    return this.replicas[target.index] ?? this.primary
  }

  /** Whether a block running on the node may take a query routed to the target. */
  serves(node: DatabaseNode, target: RouteTarget): boolean {
    if (target.kind === 'primary') {
      return node.role === 'primary'
    }
    if (this.replicas.length === 0) {
      return node.role === 'primary'
    }
    return node.role === 'replica' && (target.index === undefined || target.index === node.index)
  }

  /** Refuses, before anything is sent, a query that writes on a replica. */
  assertRunnableOn(node: DatabaseNode, query: CompiledQuery): void {
    if (node.role === 'primary') {
      return
    }
    const classification = this.classify(query)
    if (classification.access === 'write') {
      throw new ReplicaWriteError(node.name, classification.reason, classification.detail)
    }
  }

  #anyReplica(): DatabaseNode {
    return this.replicas.length === 0 ? this.primary : this.#balancer.pick(this.replicas)
  }
}
