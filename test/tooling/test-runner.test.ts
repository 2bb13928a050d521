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

  it(
    'stop a hung file after TEST_FILE_TIMEOUT_MS, naming the test it was stuck in',
    { timeout: 150_000 },
    () => {
      const run = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '--test',
          '--test-reporter=./scripts/summary-reporter.mjs',
          '--test-reporter-destination=stdout',
          'test/fixtures/test-runner/hang.test.ts',
        ],
        {
          cwd: root,
          encoding: 'utf8',
          // Long enough for tsx to load the file on a loaded machine before the watchdog looks.
          timeout: 100_000,
          env: { ...process.env, NODE_TEST_CONTEXT: undefined, TEST_FILE_TIMEOUT_MS: '15000' },
        },
      )
      assert.equal(run.signal, null, 'the watchdog ended the run itself')
      assert.equal(run.status, 1)
      assert.match(
        run.stdout,
        /hung for more than 15 s: .*hang\.test\.ts: still running "waits forever on a handle"/,
      )
      assert.equal(run.stdout.trimEnd().split('\n').at(-1), '1 passed, 1 failed, 0 skipped')
    },
  )
})
