import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import { BackupError } from '../shared/errors.ts'
import type { TaskEvent } from './events.ts'
import { MemorySink } from './sinks/memory-sink.ts'
import { runJob, runRootTask } from './task.ts'

// Each place the writer redacts is asserted on its own event, so that removing the redaction of
// any one of them (message, warning, task start, task error, job error) fails a test.
const URL_WITH_SECRET = 'https://h/x?user=a&password=s3cret'
const REDACTED_URL = 'https://h/x?user=a&password=*****'

const eventOf = (events: readonly TaskEvent[], name: TaskEvent['event']): string =>
  JSON.stringify(events.find((e) => e.event === name) ?? null)

function assertRedacted(text: string, where: string): void {
  assert.equal(text.includes('s3cret'), false, `${where} leaked the secret: ${text}`)
  assert.ok(text.includes(REDACTED_URL), `${where} keeps the rest of the URL: ${text}`)
}

describe('task log redaction on write', () => {
  it('redacts info and warning messages, and task start messages', async () => {
    const sink = new MemorySink()
    await runRootTask(
      { sink, clock: createFixedClock(0) },
      { message: `open ${URL_WITH_SECRET}` },
      (task) => {
        task.info(`GET ${URL_WITH_SECRET}`)
        task.warning(`retrying ${URL_WITH_SECRET}`)
        return Promise.resolve()
      },
    )
    assertRedacted(eventOf(sink.events, 'task.info'), 'task.info message')
    assertRedacted(eventOf(sink.events, 'task.warning'), 'task.warning message')
    assertRedacted(eventOf(sink.events, 'task.start'), 'task.start message')
  })

  it('redacts error objects: message, details and causes, on tasks and jobs', async () => {
    const error = new BackupError('EXPORT_FAILED', `export ${URL_WITH_SECRET} failed`, {
      details: { url: URL_WITH_SECRET, password: 'hunter2' },
      cause: new Error(`socket to ${URL_WITH_SECRET} closed`),
    })
    const sink = new MemorySink()
    await assert.rejects(
      runJob({ sink, clock: createFixedClock(0) }, { mode: 'full' }, (job) =>
        job.run({ message: 'export' }, () => Promise.reject(error)),
      ),
    )
    for (const name of ['task.end', 'job.end'] as const) {
      const text = eventOf(sink.events, name)
      assertRedacted(text, `${name} error`)
      assert.equal(text.includes('hunter2'), false, `${name} error details`)
      assert.match(text, /socket to https:\/\/h\/x\?user=a&password=\*{5} closed/, `${name} error cause`)
    }
  })

  it('redacts data with a password in a URL query string', async () => {
    const sink = new MemorySink()
    await runRootTask({ sink, clock: createFixedClock(0) }, { data: { url: URL_WITH_SECRET } }, (task) => {
      task.info('fetched', { url: URL_WITH_SECRET })
      return Promise.resolve({ url: URL_WITH_SECRET })
    })
    for (const name of ['task.start', 'task.info', 'task.end'] as const)
      assertRedacted(eventOf(sink.events, name), `${name} data`)
  })
})
