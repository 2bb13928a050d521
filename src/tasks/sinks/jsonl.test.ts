import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { once } from 'node:events'
import { buildTaskTrees, runStatus } from '../tree.ts'
import type { TaskTreeNode } from '../tree.ts'
import { runScriptedJob } from '../testing/scripted-job.ts'
import { JsonlFileSink } from './jsonl-sink.ts'
import { MAX_LINE_BYTES, parseTaskLog, readTaskLog } from './jsonl-reader.ts'

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jsonl-sink-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('JSONL task log', () => {
  it('writes one event a line and reads back the same events', async () => {
    const path = join(dir, 'run.jsonl')
    const sink = await JsonlFileSink.open(path)
    const { done, release } = runScriptedJob(sink)
    release()
    await done
    await sink.close()
    const text = await readFile(path, 'utf8')
    const lines = text.trimEnd().split('\n')
    const { events, rejected } = await readTaskLog(path)
    assert.deepEqual(rejected, [])
    assert.equal(events.length, lines.length)
    assert.deepEqual(events[0] && Object.keys(events[0]), ['event', 'id', 'timestamp', 'data'])
    assert.throws(() => {
      sink.write(events[0] as never)
    }, /closed/)
  })

  it('still rebuilds when cut mid-line, and marks unfinished tasks interrupted', async () => {
    const path = join(dir, 'cut.jsonl')
    const sink = await JsonlFileSink.open(path)
    const { done, release } = runScriptedJob(sink)
    release()
    await done
    await sink.close()
    const full = await readFile(path, 'utf8')
    // Cut inside the line of the 20th event.
    const cutAt = full.split('\n').slice(0, 19).join('\n').length + 1 + 15
    await truncate(path, cutAt)
    const { events, rejected } = await readTaskLog(path)
    assert.equal(events.length, 19)
    assert.deepEqual(rejected, [{ line: 20, reason: 'truncated last line (writer stopped mid-line)' }])
    const job = buildTaskTrees(events).roots[0] as TaskTreeNode
    assert.equal(job.status, 'interrupted')
    assert.equal(runStatus(job), 'interrupted')

    // A new writer appending to the cut file starts on a fresh line: the cut line stays isolated.
    const again = await JsonlFileSink.open(path)
    again.write({ event: 'job.start', id: 'next', timestamp: 1, data: {} })
    await again.close()
    const reread = parseTaskLog(await readFile(path, 'utf8'))
    assert.equal(reread.events.at(-1)?.id, 'next')
    assert.deepEqual(reread.rejected, [{ line: 20, reason: 'not valid JSON' }])
  })

  it('survives SIGKILL of the writing process', async () => {
    const path = join(dir, 'killed.jsonl')
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../testing/crash-writer.ts'), path],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const [ready] = (await once(child.stdout, 'data')) as [Buffer]
    assert.equal(ready.toString().trim(), 'ready')
    child.kill('SIGKILL')
    await once(child, 'exit')
    const { events } = await readTaskLog(path)
    const job = buildTaskTrees(events).roots[0] as TaskTreeNode
    assert.equal(runStatus(job), 'interrupted')
    assert.equal(job.tasks.at(-1)?.status, 'interrupted')
    assert.equal(job.tasks[0]?.status, 'success')
  })

  it('reports invalid lines with their number and reason instead of failing', () => {
    const text = [
      JSON.stringify({ event: 'job.start', id: 'j', timestamp: 1, data: {} }),
      JSON.stringify({ event: 'task.bogus', id: 'x', timestamp: 2 }),
      JSON.stringify({ event: 'task.end', id: 'j', timestamp: 'late', status: 'success' }),
      JSON.stringify({ event: 'task.end', id: 'j', timestamp: 3, status: 'ok' }),
      '[1,2]',
      '',
    ].join('\n')
    const { events, rejected } = parseTaskLog(text)
    assert.equal(events.length, 1)
    assert.deepEqual(rejected, [
      { line: 2, reason: 'unknown event "task.bogus"' },
      { line: 3, reason: 'field timestamp: expected a number' },
      { line: 4, reason: 'field status: expected success, failure or skipped, got "ok"' },
      { line: 5, reason: 'expected a JSON object' },
    ])
  })

  it('judges text that is mostly not events as not a task log, after 20 rejected lines', () => {
    const start = JSON.stringify({ event: 'job.start', id: 'j', timestamp: 1, data: {} })
    const nineteen = Array.from({ length: 19 }, () => 'garbage')
    assert.equal(parseTaskLog([start, ...nineteen, start].join('\n')).rejected.length, 19)
    assert.throws(
      () => parseTaskLog([...nineteen, 'garbage', start].join('\n'), 'x.jsonl'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'TASK_LOG_INVALID')
        assert.equal(e.message, 'x.jsonl: not a task log: 20 of the first 20 lines are not task events')
        return true
      },
    )
    // As many events as rejected lines: a damaged log, still shown.
    const mixed = Array.from({ length: 40 }, (_, i) => (i % 2 === 1 ? 'garbage' : start)).join('\n')
    assert.equal(parseTaskLog(mixed).rejected.length, 20)
  })

  it('redacts what it reads, bounds nesting, and refuses overlong lines', async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`
    const text = [
      JSON.stringify({ event: 'job.start', id: 'j', timestamp: 1, data: { password: 'hunter2' } }),
      `{"event":"task.info","id":"j","timestamp":2,"message":"https://h/?password=s3cret","data":{"deep":${deep}}}`,
      '',
    ].join('\n')
    const { events, rejected } = parseTaskLog(text)
    assert.deepEqual(rejected, [])
    assert.equal(JSON.stringify(events).includes('hunter2'), false)
    assert.equal(JSON.stringify(events).includes('s3cret'), false)
    assert.match(JSON.stringify(events[1]), /nested deeper than 64 levels/)
    const path = join(dir, 'long.jsonl')
    await writeFile(
      path,
      `${'x'.repeat(MAX_LINE_BYTES + 1)}\n${JSON.stringify({ event: 'job.start', id: 'j', timestamp: 1, data: {} })}\n`,
    )
    const read = await readTaskLog(path)
    assert.deepEqual(read.rejected, [{ line: 1, reason: `line longer than ${MAX_LINE_BYTES} bytes` }])
    assert.equal(read.events.length, 1)
  })

  it('never writes secrets given in data', async () => {
    const path = join(dir, 'secret.jsonl')
    const sink = await JsonlFileSink.open(path)
    const { done, release } = runScriptedJob(sink, { credentials: 'hunter2-S3CRET' })
    release()
    await done
    await sink.close()
    const text = await readFile(path, 'utf8')
    assert.equal(text.includes('hunter2-S3CRET'), false)
    assert.match(text, /"password":"\*\*\*\*\*"/)
  })

  it('reports a missing file clearly', async () => {
    await assert.rejects(readTaskLog(join(dir, 'nope.jsonl')), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TASK_LOG_UNREADABLE')
      assert.match(e.message, /nope\.jsonl/)
      return true
    })
    await writeFile(join(dir, 'empty.jsonl'), '')
    assert.deepEqual(await readTaskLog(join(dir, 'empty.jsonl')), { events: [], rejected: [] })
  })
})
