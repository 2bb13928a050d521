import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('test reporters', () => {
  it('end with the plain summary line and exit non-zero when a test fails', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=./scripts/summary-reporter.mjs',
        '--test-reporter-destination=stdout',
        'test/fixtures/test-runner/sample.test.ts',
      ],
      // A nested runner must not think it is a child of ours (node:test passes NODE_TEST_CONTEXT down).
      { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    )
    assert.equal(run.status, 1)
    assert.equal(run.stdout.trimEnd().split('\n').at(-1), '1 passed, 1 failed, 2 skipped')
  })
})
