import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TaskEvent } from '../../tasks/index.ts'
import { LiveTree } from './live-tree.ts'
import { exitCodeFor, formatRunSummary, summarizeRun } from './summary.ts'

function summaryOf(events: readonly TaskEvent[], nowMs = 10_000) {
  const tree = new LiveTree()
  for (const event of events) tree.apply(event)
  tree.finalize()
  return summarizeRun(tree.roots, nowMs, tree.warnings)
}

const job = (status?: 'success' | 'failure'): TaskEvent[] => [
  { event: 'job.start', id: 'j', timestamp: 0, data: { mode: 'delta' } },
  ...(status === undefined ? [] : [{ event: 'job.end', id: 'j', timestamp: 2000, status } as const]),
]
const vm = (id: string, status: 'success' | 'failure' | 'skipped'): TaskEvent[] => [
  { event: 'task.start', id, parentId: 'j', timestamp: 0, data: { type: 'VM', id } },
  { event: 'task.end', id, timestamp: 1000, status },
]

describe('run summary and exit code', () => {
  it('maps statuses to exit codes: success and skipped 0, the rest 1', () => {
    assert.deepEqual(
      (['success', 'skipped', 'failure', 'interrupted', 'pending'] as const).map(exitCodeFor),
      [0, 0, 1, 1, 1],
    )
  })

  it('a job whose VMs were all skipped is skipped, exits 0, and says so in a note', () => {
    const events = [...job(), ...vm('a', 'skipped'), ...vm('b', 'skipped'), ...job('success').slice(1)]
    const summary = summaryOf(events)
    assert.equal(summary.status, 'skipped')
    assert.equal(exitCodeFor(summary.status), 0)
    assert.equal(
      formatRunSummary(summary),
      'status: skipped (exit code 0)\nVMs: 2 skipped\ntransferred: 0 B in 2.0 s\nnote: every VM was skipped: nothing was backed up\n',
    )
  })

  it('a run closed before its job ended is interrupted, lasting until close', () => {
    const summary = summaryOf([...job(), ...vm('a', 'success')], 4000)
    assert.equal(summary.status, 'interrupted')
    assert.equal(summary.durationMs, 4000)
    assert.deepEqual(summary.vms, { success: 1, failure: 0, skipped: 0, interrupted: 0 })
  })

  it('a run that logged nothing is interrupted with a note', () => {
    const summary = summaryOf([])
    assert.equal(summary.status, 'interrupted')
    assert.equal(summary.note, 'no task was logged')
    assert.equal(exitCodeFor(summary.status), 1)
  })

  it('a failed job with no VM is a failure', () => {
    assert.equal(summaryOf(job('failure')).status, 'failure')
  })

  it('summarises a restore (a root task, no job) by its own tree', () => {
    const summary = summaryOf([
      {
        event: 'task.start',
        id: 'r',
        timestamp: 0,
        message: 'restore',
        data: { jobId: 'j', srId: 's', time: 1 },
      },
      { event: 'task.start', id: 't', parentId: 'r', timestamp: 0, message: 'transfer' },
      { event: 'task.end', id: 't', timestamp: 1000, status: 'success', result: { id: 'vm', size: 2048 } },
      { event: 'task.end', id: 'r', timestamp: 1000, status: 'success' },
    ])
    assert.equal(summary.status, 'success')
    assert.equal(summary.transferredBytes, 2048)
    assert.equal(summary.durationMs, 1000)
  })
})
