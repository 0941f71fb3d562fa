import type { PatroniNodeStatus } from '../ha/patroni-cluster.js'
import type { PatroniClusterNode } from '../ha/patroni-node.js'
import type { NodeStatus } from '../node-status.js'
import type { ReplicatedClusterNode } from '../replicated-cluster.js'

/** What the dotenv lines are made of: either kind of cluster. */
export interface EnvSource {
  readonly dir: string
  readonly primary: ReplicatedClusterNode
  readonly replicas: readonly ReplicatedClusterNode[]
  readonly nodes: readonly ReplicatedClusterNode[]
}

/**
 * The cluster as dotenv lines: `PG_CLUSTER_DIR`, then `DATABASE_URL_PRIMARY` for the current
 * primary and `DATABASE_URL_REPLICA_<n>` for each replica (`n` from its name: `replica2` gives
 * `REPLICA_2`). Retired nodes are left out. An HA cluster adds `PATRONI_URL_<n>`, each node's
 * REST API (`node2` gives `PATRONI_URL_2`).
 */
export function formatEnv(cluster: EnvSource): string {
  const lines = [`PG_CLUSTER_DIR=${cluster.dir}`]
  for (const node of [cluster.primary, ...cluster.replicas]) {
    const suffix = /(\d+)$/.exec(node.name)?.[1] ?? node.name.toUpperCase()
    const key = node.role === 'primary' ? 'PRIMARY' : `REPLICA_${suffix}`
    lines.push(`DATABASE_URL_${key}=${node.connectionString}`)
  }
  for (const node of cluster.nodes) {
    if (!isPatroniNode(node)) continue
    lines.push(`PATRONI_URL_${/(\d+)$/.exec(node.name)?.[1] ?? node.name}=${node.patroniUrl}`)
  }
  return `${lines.join('\n')}\n`
}

function isPatroniNode(node: ReplicatedClusterNode): node is PatroniClusterNode {
  return typeof (node as Partial<PatroniClusterNode>).patroniUrl === 'string'
}

/** Patroni's view of an HA cluster as an aligned table. */
export function formatPatroniStatus(nodes: readonly PatroniNodeStatus[]): string {
  const header = ['NODE', 'PORT', 'PATRONI', 'ROLE', 'STATE', 'TL', 'LAG_BYTES', 'API']
  const rows = nodes.map((node) => [
    node.name,
    String(node.port),
    node.up ? 'up' : 'down',
    node.patroniRole ?? '-',
    node.state ?? '-',
    show(node.timeline),
    show(node.lagBytes),
    node.patroniUrl,
  ])
  return table(header, rows)
}

/** The status as an aligned table. */
export function formatStatus(nodes: readonly NodeStatus[]): string {
  const header = [
    'NODE',
    'ROLE',
    'PORT',
    'STATE',
    'PID',
    'RECOVERY',
    'TL',
    'LAG_BYTES',
    'LAG_S',
    '',
  ]
  const rows = nodes.map((node) => [
    node.name,
    node.role,
    String(node.port),
    node.up ? 'up' : 'down',
    show(node.pid),
    node.inRecovery === undefined ? '-' : node.inRecovery ? 'yes' : 'no',
    show(node.timeline),
    show(node.lagBytes),
    node.lagSeconds === undefined ? '-' : node.lagSeconds.toFixed(1),
    [
      node.streaming === false ? 'not streaming' : node.streaming ? 'streaming' : '',
      node.replayPaused ? 'replay paused' : '',
    ]
      .filter(Boolean)
      .join(', '),
  ])
  return table(header, rows)
}

function table(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  )
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('')
}

function show(value: number | undefined): string {
  return value === undefined ? '-' : String(value)
}
