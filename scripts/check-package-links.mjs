// Every relative link in the Markdown files a package publishes must reach a file of the same
// tarball (and a heading of it, for `#anchor`), so that the README and its docs work from
// node_modules, unpkg or a registry mirror. A link to a file of the repository outside the
// package would be dead there: link it absolutely or name it in code font instead.
// Run in a package folder (part of `pnpm check:package`).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'

const [pack] = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
)
const files = new Set(pack.files.map((file) => normalize(file.path)))
const markdown = [...files].filter((file) => file.endsWith('.md'))

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 on repeats.
function anchorsOf(file) {
  const anchors = new Set()
  const seen = new Map()
  let fenced = false
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading === null) continue
    const text = heading[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*_]/g, '')
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

const problems = []
for (const file of markdown) {
  let fenced = false
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (line.startsWith('```')) fenced = !fenced
      if (fenced) return
      for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue // https:, mailto:
        const [path, anchor] = target.split('#')
        const resolved = path === '' ? file : normalize(join(dirname(file), path))
        const where = `${file}:${index + 1}: ${target}`
        if (!files.has(resolved)) {
          problems.push(`${where} (not in the tarball)`)
        } else if (anchor !== undefined && resolved.endsWith('.md')) {
          if (!anchorsOf(resolved).has(anchor)) problems.push(`${where} (no such heading)`)
        }
      }
    })
}
if (problems.length > 0) {
  console.error(`Dead links in ${pack.name}'s published Markdown:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`${pack.name}: ${markdown.length} Markdown files, every relative link resolves.`)
