#!/usr/bin/env node
import { main } from './cli/main.js'

// exitCode rather than process.exit(): stdout may be a pipe that still has lines to flush.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
