// A Server-Sent Events client for tests of GET /api/runs/{id}/events: fetch with the bearer token
// (as the console does), a line parser, and the run's `task` events until its `end` event.
import type { RunRecord } from '../../src/daemon/model.ts'
import type { TaskEvent } from '../../src/tasks/events.ts'

/** Reads the stream until `event: end` (or rejects after `timeoutMs`): the task events and the ended run. */
export async function runSseClient(
  url: string,
  token: string,
  lastEventId?: number,
  timeoutMs = 300_000,
): Promise<{ events: TaskEvent[]; ids: number[]; end: RunRecord }> {
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${token}`,
      ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
    },
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (response.status !== 200 || response.body === null)
    throw new Error(`SSE ${url}: HTTP ${response.status}`)
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream'))
    throw new Error('not an event stream')
  const events: TaskEvent[] = []
  const ids: number[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  let fields: Record<string, string> = {}
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true })
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline).replace(/\r$/, '')
      buffer = buffer.slice(newline + 1)
      if (line === '') {
        if (fields['event'] === 'task' && fields['data'] !== undefined) {
          events.push(JSON.parse(fields['data']) as TaskEvent)
          ids.push(Number(fields['id']))
        } else if (fields['event'] === 'end' && fields['data'] !== undefined) {
          return { events, ids, end: JSON.parse(fields['data']) as RunRecord }
        }
        fields = {}
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':')
        const name = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        fields[name] = fields[name] === undefined || name !== 'data' ? value : `${fields[name]}\n${value}`
      }
    }
  }
  throw new Error('the event stream ended without its end event')
}
