import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TaskEvent } from '../../tasks/index.ts'
import { runBounded } from '../../../test/support/bounded-child.ts'
import { nodeTimers } from './live-sink.ts'
import { captureSink, parseDraw, replay, syntheticRun } from './testing/harness.ts'

describe('live sink, in every mode', () => {
  const hostile: TaskEvent[] = [
    { event: 'job.start', id: 'j', timestamp: 0, data: { mode: 'full', password: 'hunter2' } },
    {
      event: 'task.start',
      id: 'v',
      parentId: 'j',
      timestamp: 0,
      data: { type: 'VM', id: 'x', name_label: 'evil\x1b[2J\nforged: done' },
    },
    {
      event: 'task.warning',
      id: 'v',
      timestamp: 0,
      message: 'GET https://root:s3cret@xen/?session_id=OpaqueRef:abc failed',
    },
    { event: 'task.end', id: 'v', timestamp: 0, status: 'success' },
    { event: 'job.end', id: 'j', timestamp: 0, status: 'success' },
  ]

  for (const mode of [{ isTty: false }, { isTty: true }, { isTty: false, json: true }]) {
    it(`redacts again and keeps control characters out (${JSON.stringify(mode)})`, () => {
      const { sink, clock, text, timers } = captureSink({ ...mode, startMs: 0 })
      replay(hostile, sink, clock, () => {
        timers.tick()
      })
      sink.close()
      const out = text()
      for (const secret of ['hunter2', 's3cret', 'OpaqueRef:abc'])
        assert.equal(out.includes(secret), false, secret)
      if (mode.json !== true) {
        assert.equal(out.includes('\x1b[2J'), false)
        assert.equal(out.includes('\nforged'), false)
      }
    })
  }

  it('ignores events after close and leaves no timer set', () => {
    const { sink, clock, chunks, timers } = captureSink({ isTty: true })
    replay(syntheticRun(1).slice(0, 5), sink, clock)
    assert.equal(timers.active, 1)
    const summary = sink.close()
    assert.equal(timers.active, 0)
    assert.equal(summary.status, 'interrupted')
    const drawn = chunks.length
    sink.write({ event: 'job.end', id: 'job', timestamp: clock.now(), status: 'success' })
    assert.equal(chunks.length, drawn)
    assert.equal(sink.close(), summary)
  })

  it("uses node's timers unref'd, so an open view never keeps the process alive", async () => {
    const handle = nodeTimers.setInterval(() => undefined, 100_000) as ReturnType<typeof setInterval>
    assert.equal(handle.hasRef(), false)
    nodeTimers.clearInterval(handle)
    const run = await runBounded('src/cli/live/testing/open-view.ts', [], { timeoutMs: 30_000 })
    assert.equal(run.timedOut, false)
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /▸ job full/)
  })

  it('keeps the run going when the display fails, and reports why', () => {
    const { sink, clock } = captureSink({ isTty: false })
    const failing = captureSink({
      isTty: false,
      out: () => {
        throw new Error('EPIPE')
      },
    })
    replay(syntheticRun(2), failing.sink, failing.clock)
    replay(syntheticRun(2), sink, clock)
    assert.match(String(failing.sink.displayError), /EPIPE/)
    assert.deepEqual(failing.sink.close(), sink.close())
  })

  it('fits the frames to a resized terminal', () => {
    const { sink, clock, chunks, timers } = captureSink({ isTty: true, columns: 100, rows: 30 })
    const events = syntheticRun(10)
    replay(events.slice(0, 30), sink, clock)
    sink.resize(40, 5)
    timers.tick()
    const draw = parseDraw(chunks.at(-1) ?? '')
    assert.equal(draw.lines.length, 4)
    // The first VM's four tasks are cut to the two lines left.
    assert.equal(draw.lines.at(-1), '  … 2 more tasks, 9 more running')
    for (const line of draw.lines) assert.ok(Array.from(line).length <= 39, line)
    sink.close()
  })
})
