#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ through node:test + tsx (Node 20 does not expand
// globs itself). Extra arguments narrow the run to files whose path contains one of them.
// Exit code is node:test's: non-zero when any test fails. A file that runs longer than
// TEST_FILE_TIMEOUT_MS (default 10 min) fails the run with the names of the tests it was stuck in.
import { spawn } from 'node:child_process'
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

// Node 22+ applies --test-timeout to each test (a stuck test fails with its name and the file goes
// on); Node 20 applies it to whole files, which the reporter's watchdog already covers with names.
const major = Number(process.versions.node.split('.')[0])
const perTestTimeout = major >= 22 ? [`--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 300_000}`] : []

// Its own process group, so that whatever a hung run leaves behind is killed with it.
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    ...perTestTimeout,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', detached: true },
)
const forward = (signal) => {
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}
process.on('SIGINT', () => forward('SIGINT'))
process.on('SIGTERM', () => forward('SIGTERM'))
child.on('close', (code, signal) => {
  forward('SIGKILL')
  process.exit(code ?? (signal === null ? 1 : 128))
})
