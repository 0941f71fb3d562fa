import { readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { mergeConfig } from 'vitest/config'
import workspace from '../vitest.config.ts'

// A CI leg runs the whole suite on another Kysely: `kysely` resolves to KYSELY_DIR for the
// library's sources and the tests alike (one copy in the process), see compat/run-leg.mjs.
const dir = process.env.KYSELY_DIR
if (dir === undefined) {
  throw new Error('KYSELY_DIR is not set: run a leg with compat/run-leg.mjs (see compat/README.md)')
}
const kysely = realpathSync(dir)
const { version } = JSON.parse(readFileSync(join(kysely, 'package.json'), 'utf8'))
// Vitest loads this file once per project: say it once.
if (process.env.KYSELY_LEG_SHOWN === undefined) {
  process.env.KYSELY_LEG_SHOWN = '1'
  console.log(`kysely ${version} from ${kysely}, node ${process.version}`)
}

export default mergeConfig(workspace, {
  resolve: { alias: [{ find: /^kysely$/, replacement: kysely }] },
})
