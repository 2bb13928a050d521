import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Runs dependency-cruiser as `npm run lint` does, in `cwd`; returns exit code and violation lines. */
function cruise(cwd: string): { status: number | null; violations: string[] } {
  const run = spawnSync(
    `${root}node_modules/.bin/depcruise`,
    ['src', '--config', `${root}.dependency-cruiser.cjs`],
    { cwd, encoding: 'utf8' },
  )
  if (run.error !== undefined) throw run.error
  const violations = run.stdout
    .split('\n')
    .map((line) => /^\s+error ([\w-]+): (\S+) → (\S+)$/.exec(line))
    .filter((m) => m !== null)
    .map(([, rule, from, to]) => `${String(from)} -> ${String(to)}: ${String(rule)}`)
  return { status: run.status, violations: violations.sort() }
}

describe('layer rules (dependency-cruiser)', () => {
  it('fail when a format imports the engine, and name every violation of the fixture', () => {
    const { status, violations } = cruise(`${root}test/fixtures/layer-violation`)
    assert.equal(status, 4, 'lint exits non-zero with the number of errors')
    assert.deepEqual(violations, [
      'src/engine/run.ts -> src/remotes/s3/s3-remote.ts: engine-uses-contracts',
      'src/engine/run.ts -> src/remotes/testing/memory-remote.ts: engine-uses-contracts',
      'src/engine/run.ts -> src/remotes/testing/memory-remote.ts: testing-helpers-stay-in-tests',
      'src/formats/vhd/reader.ts -> src/engine/run.ts: leaves-import-shared-only',
    ])
  })
})
