import { getContainerRuntimeClient } from 'testcontainers'
import type { TestProject } from 'vitest/node'

/** The image the Docker tests run, built by scripts/postgres-test-image.sh (no registry here). */
const IMAGE = process.env.POSTGRES_TEST_IMAGE ?? 'kysely-replicas/postgres-test:15'
const CLUSTER_LABEL = 'org.kysely-replicas.cluster'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The image to run, or `null` when this machine cannot run the Docker tests. */
    dockerImage: string | null
  }
}

/**
 * Decides once per run whether the Docker backend can be tested: an engine answers and the test
 * image exists. Without them the suite is skipped with one line, unless REQUIRE_DOCKER=1 (CI),
 * which makes it a failure. The teardown removes any container of a cluster the tests left.
 */
export default async function setup(project: TestProject) {
  const startedAt = Math.floor(Date.now() / 1000)
  const missing = await whatIsMissing()
  if (missing !== undefined) {
    const how =
      'run `scripts/docker-engine.sh start && scripts/postgres-test-image.sh` (root) to enable it'
    if (process.env.REQUIRE_DOCKER === '1') {
      throw new Error(`REQUIRE_DOCKER=1 but ${missing}: ${how}.`)
    }
    console.log(`Docker backend tests skipped: ${missing}; ${how}.`)
    project.provide('dockerImage', null)
    return
  }
  project.provide('dockerImage', IMAGE)
  return () => removeLeftovers(startedAt)
}

async function whatIsMissing(): Promise<string | undefined> {
  let client: Awaited<ReturnType<typeof getContainerRuntimeClient>>
  try {
    client = await getContainerRuntimeClient()
  } catch {
    return 'no Docker engine answers'
  }
  const images = await client.container.dockerode.listImages({
    filters: { reference: [IMAGE] },
  })
  return images.length === 0 ? `the image ${IMAGE} does not exist` : undefined
}

/** A safety net behind each cluster's own stop(): a leftover is reported, then removed. */
async function removeLeftovers(since: number): Promise<void> {
  const { dockerode } = (await getContainerRuntimeClient()).container
  const containers = (
    await dockerode.listContainers({ all: true, filters: { label: [CLUSTER_LABEL] } })
  ).filter((container) => container.Created >= since)
  await Promise.all(
    containers.map((container) =>
      dockerode.getContainer(container.Id).remove({ force: true, v: true }),
    ),
  )
  if (containers.length > 0) {
    throw new Error(`${containers.length} cluster container(s) outlived the tests; removed now.`)
  }
}
