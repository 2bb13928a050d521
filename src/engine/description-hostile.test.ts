import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runBounded } from '../../test/support/bounded-child.ts'

// Hostile run description texts, each parsed in a child process whose peak memory is measured:
// the yaml package alone takes > 500 MB and dies on 400 KB of nested `- ` (see description-text.ts).
const MAX_RSS = 250 * 1024 * 1024
const cases: [string, RegExp][] = [
  ['yaml-compact-sequences', /^hostile:1:257: content indented or nested past column 256$/],
  ['yaml-flow-nesting', /^hostile:1:10001: more than 10000 '\[' and '\{': too deeply nested or too large$/],
  ['yaml-flow-nesting-at-the-bound', /^hostile(:\d+:\d+)?: (YAML: )?nested too deeply$/],
  ['yaml-alias-bomb', /^hostile: YAML: Excessive alias count indicates a resource exhaustion attack$/],
  ['json-nesting', /^hostile:1:65: nested deeper than 64 levels$/],
]

describe('hostile run description texts: clean error, bounded memory', () => {
  for (const [kind, message] of cases)
    it(kind, { timeout: 90_000 }, async () => {
      const run = await runBounded('src/engine/testing/parse-hostile-text.ts', [kind], {
        timeoutMs: 60_000,
        maxOldSpaceMiB: 256,
      })
      assert.equal(run.timedOut, false)
      assert.equal(run.status, 0, run.stderr)
      const outcome = JSON.parse(run.stdout) as { code?: string; message?: string }
      assert.equal(outcome.code, 'RUN_DESCRIPTION_SYNTAX')
      assert.match(outcome.message ?? '', message)
      assert.ok(
        run.maxRssBytes !== undefined && run.maxRssBytes < MAX_RSS,
        `peak RSS ${String(run.maxRssBytes)}`,
      )
    })
})
