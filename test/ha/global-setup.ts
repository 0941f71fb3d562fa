import { findHaTools, HA_INSTALL_HINT } from '@kysely-replicas/pg-cluster'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Whether Patroni and etcd are installed, so that the HA tests can run. */
    haAvailable: boolean
  }
}

/**
 * Decides once per run whether the HA tests can run: Patroni and etcd are installed. Without
 * them the project is skipped with one line, unless REQUIRE_HA=1 (CI), which makes it a failure.
 */
export default async function setup(project: TestProject) {
  try {
    await findHaTools()
  } catch (error) {
    if (process.env.REQUIRE_HA === '1') {
      throw new Error(`REQUIRE_HA=1 but ${(error as Error).message}`)
    }
    console.log(
      `HA tests skipped: Patroni or etcd is not installed; ${HA_INSTALL_HINT} to enable them.`,
    )
    project.provide('haAvailable', false)
    return
  }
  project.provide('haAvailable', true)
}
