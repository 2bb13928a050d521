import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildTaskTrees, runStatus } from '../../tasks/index.ts'
import type { TaskEvent, TaskTreeNode } from '../../tasks/index.ts'
import { exitCodeFor, formatRunSummary } from './summary.ts'
import { captureSink, fixtureEvents, parseDraw, replay, syntheticRun } from './testing/harness.ts'

const OK = 'VM 0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6'
const BAD = 'VM 11111111-2222-4333-8444-555555555555'
const SKIP = 'VM 66666666-7777-4888-9999-aaaaaaaaaaaa'
const LATE = 'VM bbbbbbbb-cccc-4ddd-8eee-ffffffffffff'

describe('live sink, plain mode (stdout not a terminal)', () => {
  it('writes one line per notable event of the recorded delta backup, with paths, sizes and rates', async () => {
    const events = await fixtureEvents('delta-backup.jsonl')
    const { sink, clock, text } = captureSink({ startMs: events[0]?.timestamp })
    replay(events, sink, clock)
    const summary = sink.close()
    assert.deepEqual(text().split('\n'), [
      'job delta: started',
      'job delta: info: vms (4 VMs)',
      'job delta: warning: remote nfs-1 is 91% full',
      `${OK}: started`,
      `${OK} > snapshot: started`,
      `${BAD}: started`,
      `${BAD} > snapshot: started`,
      `${SKIP}: started`,
      `${LATE}: started`,
      `${LATE} > snapshot: started`,
      `${OK} > snapshot: done in 2.0 s`,
      `${BAD} > snapshot: done in 2.0 s`,
      `${SKIP}: skipped: no disks found`,
      `${LATE} > snapshot: done in 2.0 s`,
      `${OK} > export remote nfs-1: started`,
      `${OK} > export remote nfs-1 > transfer: started`,
      `${OK} > export remote nfs-1 > transfer: warning: VDI 2 was resized since the last backup: forcing a full`,
      `${BAD} > export remote nfs-1: started`,
      `${BAD} > export remote nfs-1 > transfer: started`,
      `${LATE} > export remote nfs-1: started`,
      `${LATE} > export remote nfs-1 > transfer: started`,
      `${BAD} > export remote nfs-1 > transfer: failed in 1.5 s: connection reset by XAPI [TRANSFER_FAILED] (cause: ECONNRESET)`,
      `${LATE} > export remote nfs-1 > transfer: done 3.00 GiB in 0 ms`,
      `${OK} > export remote nfs-1 > transfer: done 3.00 GiB in 7.5 s (409.60 MiB/s)`,
      `${LATE} > export remote nfs-1 > merge: started`,
      `${OK} > export remote nfs-1 > merge: started`,
      // The rethrown error is told once, where it happened.
      `${BAD} > export remote nfs-1: failed in 1.5 s`,
      `${LATE} > export remote nfs-1 > merge: done 512.00 MiB in 0 ms`,
      `${OK} > export remote nfs-1 > merge: done 512.00 MiB in 0 ms`,
      `${BAD}: failed in 9.5 s`,
      `${LATE} > export remote nfs-1: done 3.00 GiB in 0 ms`,
      `${OK} > export remote nfs-1: done 3.00 GiB in 7.5 s`,
      `${LATE}: done 3.00 GiB in 9.5 s`,
      `${OK}: done 3.00 GiB in 9.5 s`,
      // The job's own end is success; the run's status is failure (a VM failed).
      'job delta: ended in 9.5 s, 6.00 GiB transferred: failure',
      '',
    ])
    assert.equal(text().includes('\x1b'), false)
    assert.deepEqual(summary, {
      status: 'failure',
      vms: { success: 2, failure: 1, skipped: 1, interrupted: 0 },
      transferredBytes: 6 * 1024 ** 3,
      durationMs: 9500,
      warnings: 2,
    })
    assert.equal(
      formatRunSummary(summary),
      [
        'status: failure (exit code 1)',
        'VMs: 2 success, 1 failure, 1 skipped',
        'transferred: 6.00 GiB in 9.5 s (646.74 MiB/s)',
        'warnings: 2',
        '',
      ].join('\n'),
    )
  })

  it('reports progress at most every 10% per task, with rate', () => {
    // Progress every 500 ms by 5%: twenty events, ten lines.
    const events = syntheticRun(1, { stepMs: 1000 }).flatMap((e): TaskEvent[] =>
      e.event === 'task.progress'
        ? [{ ...e, timestamp: e.timestamp - 500, done: e.done - (e.total ?? 0) / 20 }, e]
        : [e],
    )
    const { sink, clock, text } = captureSink()
    replay(events, sink, clock)
    sink.close()
    const progress = text()
      .split('\n')
      .filter((line) => line.includes('%'))
    assert.deepEqual(progress.slice(0, 3), [
      'VM vm-000 > export remote nas > transfer: 10% (102.40 MiB of 1.00 GiB, 102.40 MiB/s)',
      'VM vm-000 > export remote nas > transfer: 20% (204.80 MiB of 1.00 GiB, 102.40 MiB/s)',
      'VM vm-000 > export remote nas > transfer: 30% (307.20 MiB of 1.00 GiB, 102.40 MiB/s)',
    ])
    assert.equal(progress.length, 10)
    assert.match(text(), /transfer: done 1\.00 GiB in 10\.0 s \(102\.40 MiB\/s\)\n/)
  })

  it('agrees with log show on the interrupted log: unfinished VMs are interrupted, exit code 1', async () => {
    const events = await fixtureEvents('interrupted.jsonl')
    const { sink, clock } = captureSink({ startMs: events[0]?.timestamp })
    replay(events, sink, clock)
    const summary = sink.close()
    const job = buildTaskTrees(events, { final: true }).roots[0] as TaskTreeNode
    assert.equal(summary.status, runStatus(job))
    assert.equal(summary.status, 'interrupted')
    assert.deepEqual(summary.vms, { success: 0, failure: 1, skipped: 1, interrupted: 2 })
    assert.equal(exitCodeFor(summary.status), 1)
  })
})

describe('live sink, JSON mode', () => {
  it('writes each event as one JSON line that parses back to the same event', async () => {
    const events = await fixtureEvents('delta-backup.jsonl')
    const { sink, clock, text, timers } = captureSink({
      json: true,
      isTty: true,
      startMs: events[0]?.timestamp,
    })
    replay(events, sink, clock)
    assert.equal(sink.mode, 'json')
    assert.equal(timers.active, 0, 'no redraw timer in JSON mode')
    assert.equal(sink.close().status, 'failure')
    const lines = text().trimEnd().split('\n')
    assert.deepEqual(
      lines.map((line) => JSON.parse(line) as unknown),
      events,
    )
  })
})

describe('live sink, TTY mode', () => {
  it('redraws the tree in place with progress bars and rates, at most once per timer period', () => {
    const { sink, clock, chunks, timers } = captureSink({ isTty: true, columns: 120, rows: 30 })
    const events = syntheticRun(2, { stepMs: 1000 })
    const at30 = events.findIndex(
      (e) => e.event === 'task.progress' && e.done === 0.3 * 1024 ** 3 && e.id === 'vm-001/xfer',
    )
    replay(events.slice(0, at30 + 1), sink, clock)
    // Only the first event drew; the others wait for the timer.
    assert.equal(chunks.length, 1)
    timers.tick()
    timers.tick() // nothing changed since: no draw
    assert.equal(chunks.length, 2)
    const draw = parseDraw(chunks[1] ?? '')
    assert.equal(draw.up, 1)
    assert.deepEqual(draw.lines, [
      '▸ job full  4.0 s  VMs: 2 running',
      '  ▸ VM vm-000  4.0 s',
      '    ✔ snapshot  1.0 s',
      '    ▸ export remote nas  3.0 s',
      '      ▸ transfer  3.0 s  [██████░░░░░░░░░░░░░░] 30%  307.20 MiB/1.00 GiB  102.40 MiB/s',
      '  ▸ VM vm-001  4.0 s',
      '    ✔ snapshot  1.0 s',
      '    ▸ export remote nas  3.0 s',
      '      ▸ transfer  3.0 s  [██████░░░░░░░░░░░░░░] 30%  307.20 MiB/1.00 GiB  102.40 MiB/s',
    ])
    // With no event, the timer still refreshes elapsed times once a second.
    clock.advance(999)
    timers.tick()
    assert.equal(chunks.length, 2)
    clock.advance(1)
    timers.tick()
    assert.equal(parseDraw(chunks[2] ?? '').up, 9)
    assert.match(parseDraw(chunks[2] ?? '').lines[0] ?? '', /^▸ job full {2}5\.0 s/)

    replay(events.slice(at30 + 1), sink, clock)
    const summary = sink.close()
    const last = parseDraw(chunks.at(-1) ?? '')
    assert.equal(last.up, 9)
    assert.deepEqual(last.lines, [
      '✔ job full  11.0 s  VMs: 2 done',
      '  ✔ VM vm-000  11.0 s  1.00 GiB',
      '  ✔ VM vm-001  11.0 s  1.00 GiB',
    ])
    assert.equal(summary.status, 'success')
    assert.equal(timers.active, 0)
  })

  it('stays within the terminal height with 200 VMs running, summarising the rest', () => {
    const rows = 24
    const { sink, clock, chunks, timers } = captureSink({ isTty: true, columns: 80, rows })
    const events = syntheticRun(200)
    let count = 0
    replay(events, sink, clock, () => {
      if (++count % 20 === 0) timers.tick()
    })
    sink.close()
    const draws = chunks.map(parseDraw)
    assert.ok(draws.length > 150, 'draws.length > 150')
    // Each draw moves up by the height of the previous frame: every frame had at most rows - 1 lines.
    for (const draw of draws) assert.ok(draw.up <= rows - 1, `frame of ${draw.up} lines`)
    const midRun = draws.find((d) => d.lines.some((line) => line.includes('] 50%')))
    assert.ok(midRun !== undefined, 'midRun !== undefined')
    // The header, five whole VM subtrees of four lines, and what is not shown.
    assert.equal(midRun.lines.length, 22)
    assert.equal(midRun.lines[0], '▸ job full  6.0 s  VMs: 200 running')
    assert.equal(midRun.lines.at(-1), '  … 195 more running')
    for (const line of midRun.lines) assert.ok(Array.from(line).length <= 79, line)
    const final = draws.at(-1)
    assert.equal(final?.lines.length, rows - 1)
    assert.equal(final.lines[0], '✔ job full  11.0 s  VMs: 200 done')
    assert.equal(final.lines.at(-1), '  … 179 more finished')
  })

  it('prints warnings and failures above the view, where they stay', async () => {
    const events = await fixtureEvents('delta-backup.jsonl')
    const { sink, clock, chunks, timers } = captureSink({
      isTty: true,
      columns: 200,
      startMs: events[0]?.timestamp,
    })
    replay(events, sink, clock, () => {
      timers.tick()
    })
    sink.close()
    const draws = chunks.map(parseDraw)
    // Lines above a frame are those beyond the height the next draw moves up by.
    const above = draws
      .slice(0, -1)
      .flatMap((draw, i) => draw.lines.slice(0, draw.lines.length - (draws[i + 1]?.up ?? 0)))
    assert.deepEqual(above, [
      'job delta: warning: remote nfs-1 is 91% full',
      `${OK} > export remote nfs-1 > transfer: warning: VDI 2 was resized since the last backup: forcing a full`,
      `${BAD} > export remote nfs-1 > transfer: failed in 1.5 s: connection reset by XAPI [TRANSFER_FAILED] (cause: ECONNRESET)`,
      `${BAD} > export remote nfs-1: failed in 1.5 s`,
      `${BAD}: failed in 9.5 s`,
    ])
    assert.deepEqual(draws.at(-1)?.lines, [
      '✖ job delta  9.5 s  VMs: 2 done, 1 failed, 1 skipped',
      `  ○ ${SKIP}  2.0 s  no disks found`,
      `  ✖ ${BAD}  9.5 s  connection reset by XAPI [TRANSFER_FAILED] (cause: ECONNRESET)`,
      `  ✔ ${OK}  9.5 s  3.00 GiB`,
      `  ✔ ${LATE}  9.5 s  3.00 GiB`,
    ])
  })
})
