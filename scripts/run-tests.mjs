#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ through node:test + tsx (Node 20 does not expand
// globs itself). Extra arguments narrow the run to files whose path contains one of them.
// Exit code is node:test's: non-zero when any test fails.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'fixtures') continue
      yield* walk(path)
    } else if (entry.name.endsWith('.test.ts')) {
      yield relative(root, path)
    }
  }
}

const filters = process.argv.slice(2)
const files = ['src', 'test']
  .flatMap((dir) => [...walk(join(root, dir))])
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort()

if (files.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`)
  process.exit(1)
}

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
)
process.exit(result.status ?? 1)
