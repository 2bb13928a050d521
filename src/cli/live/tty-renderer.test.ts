import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TaskEvent } from '../../tasks/index.ts'
import { LiveTree } from './live-tree.ts'
import { BAR_WIDTH, fit, progressBar, redrawText, renderFrame } from './tty-renderer.ts'

function treeOf(events: readonly TaskEvent[]) {
  const tree = new LiveTree()
  for (const event of events) tree.apply(event)
  return tree
}

/** A job with one VM exporting `disks` disks at once, each transfer at `done` of 100 MiB. */
function wideVm(disks: number, done: number, total?: number): TaskEvent[] {
  const events: TaskEvent[] = [
    { event: 'job.start', id: 'j', timestamp: 0, data: { mode: 'full' } },
    {
      event: 'task.start',
      id: 'v',
      parentId: 'j',
      timestamp: 0,
      data: { type: 'VM', id: 'u', name_label: 'big' },
    },
  ]
  for (let i = 0; i < disks; i++) {
    events.push({ event: 'task.start', id: `t${i}`, parentId: 'v', timestamp: 0, message: 'transfer' })
    events.push(
      total === undefined
        ? { event: 'task.progress', id: `t${i}`, timestamp: 0, done }
        : { event: 'task.progress', id: `t${i}`, timestamp: 0, done, total },
    )
  }
  return events
}

const MiB = 1024 ** 2

describe('TTY frame', () => {
  it('draws bars clamped to their width', () => {
    assert.equal(progressBar(0, 10), `[${'░'.repeat(BAR_WIDTH)}]`)
    assert.equal(progressBar(5, 10), `[${'█'.repeat(10)}${'░'.repeat(10)}]`)
    assert.equal(progressBar(50, 10), `[${'█'.repeat(BAR_WIDTH)}]`)
    assert.equal(progressBar(-1, 10), `[${'░'.repeat(BAR_WIDTH)}]`)
    assert.equal(progressBar(1, 0), `[${'░'.repeat(BAR_WIDTH)}]`)
  })

  it('cuts a single subtree taller than the screen and says how many tasks are not shown', () => {
    const tree = treeOf(wideVm(30, 10 * MiB, 100 * MiB))
    const lines = renderFrame(tree.roots, { nowMs: 2000, columns: 100, rows: 10 })
    assert.equal(lines.length, 9)
    assert.equal(lines[0], '▸ job full  2.0 s  VMs: 1 running')
    assert.equal(lines[1], '  ▸ VM big  2.0 s')
    assert.equal(
      lines[2],
      '    ▸ transfer  2.0 s  [██░░░░░░░░░░░░░░░░░░] 10%  10.00 MiB/100.00 MiB  5.00 MiB/s',
    )
    assert.equal(lines[8], '  … 24 more tasks')
  })

  it('shows progress without a total as bytes and rate', () => {
    const tree = treeOf(wideVm(1, 10 * MiB))
    assert.equal(
      renderFrame(tree.roots, { nowMs: 4000, columns: 100, rows: 10 })[2],
      '    ▸ transfer  4.0 s  10.00 MiB  2.50 MiB/s',
    )
  })

  it('cuts lines to one cell less than the width, and a 2-row terminal gets one line', () => {
    const tree = treeOf(wideVm(3, MiB, 100 * MiB))
    for (const line of renderFrame(tree.roots, { nowMs: 1000, columns: 20, rows: 24 })) {
      assert.ok(Array.from(line).length <= 19, line)
    }
    assert.deepEqual(renderFrame(tree.roots, { nowMs: 1000, columns: 80, rows: 2 }), [
      '▸ job full  1.0 s  VMs: 1 running',
    ])
  })

  it('counts wide characters as two cells when cutting to the width', () => {
    assert.equal(fit('abcdef', 5), 'abc…')
    assert.equal(fit('abcd', 5), 'abcd')
    assert.equal(fit('VM 東京サーバー', 10), 'VM 東京…')
    assert.equal(fit('ab😀c', 5), 'ab…')
    assert.equal(fit('ab😀', 5), 'ab😀')
  })

  it('moves the cursor up only over a previous frame', () => {
    assert.equal(redrawText(0, [], ['a']), '\r\x1b[2Ka\n\x1b[J')
    assert.equal(redrawText(2, ['kept'], ['a']), '\x1b[2A\r\x1b[2Kkept\n\r\x1b[2Ka\n\x1b[J')
  })
})
