import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildTaskTrees, runStatuses } from '../../tasks/index.ts'
import type { TaskEvent, TaskTreeNode } from '../../tasks/index.ts'
import { LiveTree, MAX_ENTRIES_PER_TASK, printable, taskName, taskPath } from './live-tree.ts'
import { fixtureEvents } from './testing/harness.ts'

function statusesById(roots: readonly TaskTreeNode[]) {
  const out: Record<string, string> = {}
  for (const root of roots)
    for (const [node, status] of runStatuses(root)) out[node.id] = `${node.status}/${status}`
  return out
}

describe('live tree', () => {
  for (const name of ['delta-backup.jsonl', 'interrupted.jsonl']) {
    it(`builds the same tree and statuses as buildTaskTrees (${name})`, async () => {
      const events = await fixtureEvents(name)
      const tree = new LiveTree()
      for (const event of events) tree.apply(event)
      tree.finalize()
      const built = buildTaskTrees(events, { final: true })
      assert.deepEqual(tree.roots, built.roots)
      assert.deepEqual(statusesById(tree.roots), statusesById(built.roots))
      assert.equal(tree.orphans, built.orphans.length)
    })
  }

  it('counts orphans (unknown task, restarted task) and changes nothing for them', () => {
    const tree = new LiveTree()
    const events: TaskEvent[] = [
      { event: 'job.start', id: 'j', timestamp: 0, data: {} },
      { event: 'task.start', id: 'x', parentId: 'nobody', timestamp: 0 },
      { event: 'job.start', id: 'j', timestamp: 1, data: { again: true } },
      { event: 'task.end', id: 'ghost', timestamp: 1, status: 'success' },
    ]
    assert.deepEqual(
      events.map((e) => tree.apply(e)?.id),
      ['j', undefined, undefined, undefined],
    )
    assert.equal(tree.orphans, 3)
    assert.equal(tree.roots.length, 1)
  })

  it('keeps at most MAX_ENTRIES_PER_TASK warnings per task but counts them all', () => {
    const tree = new LiveTree()
    tree.apply({ event: 'job.start', id: 'j', timestamp: 0, data: {} })
    for (let i = 0; i < 1000; i++)
      tree.apply({ event: 'task.warning', id: 'j', timestamp: i, message: `w${i}` })
    assert.equal(tree.roots[0]?.warnings.length, MAX_ENTRIES_PER_TASK)
    assert.equal(tree.warnings, 1000)
  })

  it('names tasks as the seed describes them, and paths from below the job', () => {
    const tree = new LiveTree()
    const events: TaskEvent[] = [
      { event: 'job.start', id: 'j', timestamp: 0, data: { mode: 'full' } },
      {
        event: 'task.start',
        id: 'v',
        parentId: 'j',
        timestamp: 0,
        data: { type: 'VM', id: 'uuid', name_label: 'web-01' },
      },
      {
        event: 'task.start',
        id: 'e',
        parentId: 'v',
        timestamp: 0,
        message: 'export',
        data: { type: 'remote', id: 'nas', isFull: true },
      },
      { event: 'task.start', id: 't', parentId: 'e', timestamp: 0, message: 'transfer' },
      { event: 'task.start', id: 'u', parentId: 'j', timestamp: 0, data: { type: 'VM', id: 'uuid-2' } },
    ]
    const nodes = events.map((e) => tree.apply(e) as TaskTreeNode)
    assert.deepEqual(nodes.map(taskName), [
      'job full',
      'VM web-01',
      'export remote nas',
      'transfer',
      'VM uuid-2',
    ])
    assert.equal(taskPath(tree, nodes[3] as TaskTreeNode), 'VM web-01 > export remote nas > transfer')
    assert.equal(taskPath(tree, nodes[0] as TaskTreeNode), 'job full')
  })

  it('makes names printable: no control characters, bounded length', () => {
    assert.equal(printable('a\x1b[31mb\nc\u009bd'), 'a\uFFFD[31mb\uFFFDc\uFFFDd')
    assert.equal(Array.from(printable('é'.repeat(500))).length, 80)
  })
})
