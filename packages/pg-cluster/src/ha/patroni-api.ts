/**
 * One member of a Patroni cluster as its REST API lists it (`GET /cluster`).
 *
 * ```ts
 * const members = await readPatroniMembers('http://127.0.0.1:8008')
 * console.log(members.find((member) => member.role === 'leader')?.name)
 * ```
 */
export interface PatroniMember {
  readonly name: string
  /** `leader`, `replica`, `sync_standby`, `standby_leader`, … */
  readonly role: string
  /** `running`, `streaming`, `starting`, `stopped`, `start failed`, … */
  readonly state: string
  readonly host: string
  readonly port: number
  readonly api_url?: string
  readonly timeline?: number
  /** Replicas: WAL bytes behind the leader, or `unknown`. */
  readonly lag?: number | string
}

/** Every member `GET /cluster` lists, from the node at `url`; throws if it does not answer. */
export async function readPatroniMembers(url: string, timeoutMs = 2000): Promise<PatroniMember[]> {
  const response = await fetch(new URL('/cluster', url), {
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (!response.ok) throw new Error(`GET ${url}/cluster answered ${response.status}.`)
  const body = (await response.json()) as { members?: PatroniMember[] }
  return Array.isArray(body.members) ? body.members : []
}
