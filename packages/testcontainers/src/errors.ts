import { PgClusterError } from '@kysely-replicas/pg-cluster'

/**
 * No Docker engine answered: none runs, or `DOCKER_HOST` points nowhere. Every other error of
 * this package is one of `@kysely-replicas/pg-cluster`'s (`NodeStateError`,
 * `ClusterTimeoutError`, …), so that code written against `ReplicatedCluster` catches the same
 * classes on both backends.
 *
 * ```ts
 * try {
 *   await PostgresContainerCluster.start()
 * } catch (error) {
 *   if (error instanceof DockerUnavailableError) console.error('start Docker first')
 * }
 * ```
 */
export class DockerUnavailableError extends PgClusterError {}
