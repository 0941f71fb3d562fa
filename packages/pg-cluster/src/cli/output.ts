import type { NodeStatus } from '../node-status.js'
import type { PgCluster } from '../pg-cluster.js'

/**
 * The cluster as dotenv lines: `PG_CLUSTER_DIR`, then `DATABASE_URL_PRIMARY` for the current
 * primary and `DATABASE_URL_REPLICA_<n>` for each replica (`n` from its name: `replica2` gives
 * `REPLICA_2`). Retired nodes are left out.
 */
export function formatEnv(cluster: PgCluster): string {
  const lines = [`PG_CLUSTER_DIR=${cluster.dir}`]
  for (const node of [cluster.primary, ...cluster.replicas]) {
    const suffix = /(\d+)$/.exec(node.name)?.[1] ?? node.name.toUpperCase()
    const key = node.role === 'primary' ? 'PRIMARY' : `REPLICA_${suffix}`
    lines.push(`DATABASE_URL_${key}=${node.connectionString}`)
  }
  return `${lines.join('\n')}\n`
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
