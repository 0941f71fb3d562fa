import { Kysely } from 'kysely'
import { type BalancingOption, ReplicatedDialect } from 'kysely-replicas'
import { describe, expect, it } from 'vitest'
import type { Database } from '../support/database.js'
import { Journal, RecordingDialect } from '../support/recording-dialect.js'

// The balancers are tested alone in this folder; these check that the dialect hands them the
// `balancing` option and each replica's `weight`.
function database(balancing: BalancingOption | undefined, weights: readonly number[]) {
  const journal = new Journal()
  const db = new Kysely<Database>({
    dialect: new ReplicatedDialect({
      readYourWrites: false,
      balancing,
      primary: new RecordingDialect('primary', journal),
      replicas: weights.map((weight, index) => ({
        name: `replica-${index}`,
        weight,
        dialect: new RecordingDialect(`replica-${index}`, journal),
      })),
    }),
  })
  return { db, journal }
}

async function readNodes(
  balancing: BalancingOption | undefined,
  weights: readonly number[],
  reads = 8,
) {
  const { db, journal } = database(balancing, weights)
  for (let i = 0; i < reads; i++) {
    await db.selectFrom('person').selectAll().execute()
  }
  await db.destroy()
  return journal.nodesFor('select')
}

const count = (nodes: readonly string[], name: string) =>
  nodes.filter((node) => node === name).length

describe('the balancing option of the dialect', () => {
  it("spreads reads by each replica's weight with 'weighted'", async () => {
    const nodes = await readNodes('weighted', [3, 1])
    expect(count(nodes, 'replica-0')).toBe(6)
    expect(count(nodes, 'replica-1')).toBe(2)
  })

  it('gives weights no say without it: round-robin by default', async () => {
    const nodes = await readNodes(undefined, [3, 1], 4)
    expect(nodes).toEqual(['replica-0', 'replica-1', 'replica-0', 'replica-1'])
  })

  it('uses a function given as balancing, which sees every candidate with its weight', async () => {
    const seen: unknown[] = []
    const nodes = await readNodes(
      (candidates) => {
        seen.push(candidates.map(({ name, weight }) => ({ name, weight })))
        return 'replica-1'
      },
      [2, 5],
      3,
    )
    expect(nodes).toEqual(['replica-1', 'replica-1', 'replica-1'])
    expect(seen[0]).toEqual([
      { name: 'replica-0', weight: 2 },
      { name: 'replica-1', weight: 5 },
    ])
  })

  it('has every read timed for a balancer that reads latency, one in 16 otherwise', async () => {
    const samplesSeen = async (usesLatency: boolean) => {
      const seen: number[] = []
      await readNodes(
        {
          usesLatency,
          pick: (candidates) => {
            const node = candidates[0] as (typeof candidates)[number]
            seen.push(node.stats.samples)
            return node
          },
        },
        [1],
        4,
      )
      return seen
    }
    expect(await samplesSeen(true)).toEqual([0, 1, 2, 3])
    expect(await samplesSeen(false)).toEqual([0, 1, 1, 1])
  })

  it('uses a Balancer given as balancing', async () => {
    const nodes = await readNodes(
      { pick: (candidates) => candidates[candidates.length - 1] as (typeof candidates)[number] },
      [1, 1, 1],
      3,
    )
    expect(nodes).toEqual(['replica-2', 'replica-2', 'replica-2'])
  })
})
