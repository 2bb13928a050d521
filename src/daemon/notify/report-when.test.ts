import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RunState } from '../model.ts'
import { shouldReport, type ReportWhen } from './report-when.ts'

const STATES: readonly RunState[] = [
  'pending',
  'running',
  'success',
  'failure',
  'interrupted',
  'skipped',
  'missed',
]

describe('shouldReport', () => {
  it('follows reportWhen for every run state', () => {
    const expected: Record<ReportWhen, readonly RunState[]> = {
      always: ['success', 'failure', 'interrupted', 'skipped', 'missed'],
      failure: ['failure', 'interrupted', 'skipped', 'missed'],
      error: ['failure', 'interrupted', 'missed'],
      never: [],
    }
    for (const [when, reported] of Object.entries(expected) as [ReportWhen, readonly RunState[]][]) {
      assert.deepEqual(
        STATES.filter((state) => shouldReport(when, state)),
        reported,
        `reportWhen ${when}`,
      )
    }
  })
})
