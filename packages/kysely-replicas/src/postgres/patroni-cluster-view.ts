/** One member as Patroni's `GET /cluster` lists it; only what the monitor reads. */
export interface PatroniMemberView {
  readonly name: string
  /** `leader`, `replica`, `sync_standby`, … */
  readonly role: string
  /** `running`, `streaming`, `starting`, `stopped`, … */
  readonly state: string
  readonly timeline: number | undefined
  /** WAL bytes behind the leader; `undefined` when Patroni does not know (`unknown`). */
  readonly lagBytes: number | undefined
  /** Where its PostgreSQL listens (`connect_address`); `undefined` if Patroni does not say. */
  readonly host: string | undefined
  readonly port: number | undefined
}

/** Patroni's view of its cluster: the members it lists, and its running leader if any. */
export interface PatroniClusterView {
  readonly members: ReadonlyMap<string, PatroniMemberView>
  readonly leader: PatroniMemberView | undefined
}

const LEADER_ROLES = new Set(['leader', 'master', 'primary'])

/**
 * Reads `GET /cluster` from the first of `urls` that answers within `timeoutMs`, starting at
 * `start`; resolves with the view and the index of the URL that answered, or rejects with the
 * last failure when none did.
 */
export async function readPatroniCluster(
  urls: readonly string[],
  start: number,
  timeoutMs: number,
): Promise<{ view: PatroniClusterView; index: number }> {
  let lastError: unknown
  for (let offset = 0; offset < urls.length; offset++) {
    const index = (start + offset) % urls.length
    try {
      const response = await fetch(new URL('/cluster', urls[index]), {
        signal: AbortSignal.timeout(timeoutMs),
      })
      if (!response.ok) {
        throw new Error(`GET ${urls[index]}/cluster answered ${response.status}.`)
      }
      return { view: parseClusterView(await response.json()), index }
    } catch (error) {
      lastError = error
    }
  }
  throw lastError
}

/** Reads the body of `GET /cluster`; throws on anything that is not one. */
export function parseClusterView(body: unknown): PatroniClusterView {
  const raw = (body as { members?: unknown } | null)?.members
  if (!Array.isArray(raw)) {
    throw new TypeError('The Patroni REST API answered /cluster without a members list.')
  }
  const members = new Map<string, PatroniMemberView>()
  for (const entry of raw as Array<Record<string, unknown>>) {
    if (typeof entry?.name !== 'string') continue
    members.set(entry.name, {
      name: entry.name,
      role: String(entry.role ?? ''),
      state: String(entry.state ?? ''),
      timeline: typeof entry.timeline === 'number' ? entry.timeline : undefined,
      lagBytes: typeof entry.lag === 'number' ? entry.lag : undefined,
      host: typeof entry.host === 'string' && entry.host !== '' ? entry.host : undefined,
      port: typeof entry.port === 'number' ? entry.port : undefined,
    })
  }
  const leader = [...members.values()].find(
    (member) => LEADER_ROLES.has(member.role) && member.state === 'running',
  )
  return { members, leader }
}
