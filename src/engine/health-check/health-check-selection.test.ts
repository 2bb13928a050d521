import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { HealthCheckSelectionSettings } from './health-check-selection.ts'
import { TAGS_MISMATCH_MESSAGE, selectForHealthCheck } from './health-check-selection.ts'

const SR = '6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'

const settings = (
  healthCheckSr: string | undefined,
  healthCheckVmsWithTags: readonly string[] = [],
): HealthCheckSelectionSettings => ({ healthCheckSr, healthCheckVmsWithTags })

describe('selectForHealthCheck', () => {
  // [what, VM tags, settings, expected decision without reason text (or with, when it is XO's)]
  const table: readonly [string, readonly string[], HealthCheckSelectionSettings, string][] = [
    ['no SR: never, whatever the tags', ['a'], settings(undefined, ['a']), 'no-sr'],
    ['no SR and no tags', [], settings(undefined), 'no-sr'],
    ['an empty SR string counts as unset', [], settings(''), 'no-sr'],
    ['SR and no tag list: every VM', [], settings(SR), 'check'],
    ['SR and no tag list, VM with tags', ['prod', 'web'], settings(SR), 'check'],
    ['tag list: a VM with one of them', ['web'], settings(SR, ['db', 'web']), 'check'],
    ['tag list: ANY one is enough (not all)', ['db'], settings(SR, ['db', 'web']), 'check'],
    ['tag list: a VM with all of them', ['db', 'web'], settings(SR, ['db', 'web']), 'check'],
    ['tag list: a VM with none of them', ['prod'], settings(SR, ['db', 'web']), 'tags-mismatch'],
    ['tag list: a VM without tags', [], settings(SR, ['db']), 'tags-mismatch'],
    ['tags match exactly: case matters', ['Web'], settings(SR, ['web']), 'tags-mismatch'],
    ['tags match exactly: no prefix match', ['web-01'], settings(SR, ['web']), 'tags-mismatch'],
    ['xo:no-health-check excludes', ['xo:no-health-check'], settings(SR), 'excluded-by-tag'],
    ['xo:no-health-check=reason excludes', ['xo:no-health-check=too big'], settings(SR), 'excluded-by-tag'],
    [
      'xo:no-health-check wins over a matching tag',
      ['web', 'xo:no-health-check'],
      settings(SR, ['web']),
      'excluded-by-tag',
    ],
    ['the exclusion tag is a prefix test, as XO', ['xo:no-health-checks'], settings(SR), 'excluded-by-tag'],
    ['another xo: tag does not exclude', ['xo:no-bak'], settings(SR), 'check'],
    ['the exclusion is case-sensitive, as XO', ['XO:NO-HEALTH-CHECK'], settings(SR), 'check'],
    ['an empty tag in the list matches only an empty tag', [''], settings(SR, ['']), 'check'],
    ['an empty tag in the list does not match others', ['web'], settings(SR, ['']), 'tags-mismatch'],
    ['prototype names are plain tags', ['__proto__'], settings(SR, ['constructor']), 'tags-mismatch'],
    ['prototype names match themselves', ['__proto__'], settings(SR, ['__proto__']), 'check'],
  ]
  for (const [what, tags, s, expected] of table) {
    it(what, () => {
      const decision = selectForHealthCheck(tags, s)
      assert.equal(decision.check ? 'check' : decision.skip, expected)
      if (decision.check) assert.equal(decision.srUuid, SR)
    })
  }

  it("logs XO's message for a tag mismatch", () => {
    const decision = selectForHealthCheck(['prod'], settings(SR, ['web']))
    assert.deepEqual(decision, { check: false, skip: 'tags-mismatch', reason: TAGS_MISMATCH_MESSAGE })
    assert.equal(TAGS_MISMATCH_MESSAGE, "This VM doesn't match the health check's tags for this schedule")
  })

  it('names the excluding tag, quoted, whatever it holds', () => {
    const decision = selectForHealthCheck(['xo:no-health-check=no "tools"\n'], settings(SR))
    assert.ok(!decision.check, 'excluded')
    assert.equal(
      decision.reason,
      'This VM is excluded from health checks by its tag "xo:no-health-check=no \\"tools\\"\\n"',
    )
  })

  it('reads many tags without trouble', () => {
    const tags = Array.from({ length: 10_000 }, (_, i) => `t${i}`)
    assert.equal(selectForHealthCheck(tags, settings(SR, ['t9999'])).check, true)
    assert.equal(selectForHealthCheck(tags, settings(SR, ['t10000'])).check, false)
  })
})
