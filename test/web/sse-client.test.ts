import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { StreamState } from '../../web/src/sse-client.ts'
import { readEventStream, StreamRefusedError } from '../../web/src/sse-client.ts'
import type { SseMessage } from '../../web/src/sse-parser.ts'

// Six task events then an end event; the first connection of /drop is cut in the middle of the
// fourth event (after its id and event lines, before its blank line).
const EVENTS = Array.from({ length: 6 }, (_, i) => `id: ${i}\nevent: task\ndata: {"seq":${i}}\n\n`)
const END = 'event: end\ndata: {"status":"success"}\n\n'

interface Seen {
  readonly path: string
  readonly lastEventId: string | undefined
  readonly authorization: string | undefined
}

function handler(seen: Seen[]) {
  let dropped = false
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? ''
    const header = req.headers['last-event-id']
    seen.push({
      path,
      lastEventId: typeof header === 'string' ? header : undefined,
      authorization: req.headers.authorization,
    })
    if (path === '/refused') {
      res.writeHead(401, { 'Content-Type': 'application/json' })
      res.end('{"error":{"code":"UNAUTHORIZED","message":"unknown token"}}')
      return
    }
    if (path === '/down') {
      res.writeHead(503)
      res.end()
      return
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' })
    const from = header === undefined ? 0 : Number(header) + 1
    if (path === '/drop' && !dropped) {
      dropped = true
      res.write(EVENTS.slice(0, 3).join('') + 'id: 3\nevent: task\n')
      // Let the bytes leave before the cut, as a proxy or a network failure would.
      setTimeout(() => res.destroy(), 50)
      return
    }
    if (path === '/hang') return
    res.end(EVENTS.slice(from).join('') + END)
  }
}

describe('readEventStream', () => {
  const seen: Seen[] = []
  const server = createServer(handler(seen))
  let base = ''
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server.closeAllConnections()
    server.close()
  })

  const read = async (path: string, signal = AbortSignal.timeout(10_000)) => {
    const messages: SseMessage[] = []
    const states: StreamState[] = []
    const outcome = await readEventStream({
      url: `${base}${path}`,
      headers: { Authorization: 'Bearer t0k' },
      signal,
      endEvent: 'end',
      retryMs: 1,
      maxRetryMs: 5,
      onMessage: (m) => messages.push(m),
      onState: (s) => states.push(s),
    })
    return { outcome, messages, states }
  }

  it('reads every event then stops at the end event, sending the token in a header', async () => {
    seen.length = 0
    const { outcome, messages } = await read('/whole')
    assert.equal(outcome, 'end')
    assert.deepEqual(
      messages.map((m) => `${m.event}:${m.lastEventId}`),
      ['task:0', 'task:1', 'task:2', 'task:3', 'task:4', 'task:5', 'end:5'],
    )
    assert.deepEqual(seen, [{ path: '/whole', lastEventId: undefined, authorization: 'Bearer t0k' }])
  })

  it('reconnects after a drop with Last-Event-ID of the last whole event, losing and repeating nothing', async () => {
    seen.length = 0
    const { outcome, messages, states } = await read('/drop')
    assert.equal(outcome, 'end')
    assert.deepEqual(
      messages.filter((m) => m.event === 'task').map((m) => JSON.parse(m.data) as unknown),
      [0, 1, 2, 3, 4, 5].map((seq) => ({ seq })),
    )
    assert.deepEqual(
      seen.map((s) => s.lastEventId),
      [undefined, '2'],
    )
    assert.ok(states.includes('reconnecting'), `states: ${states.join(', ')}`)
  })

  it('retries a 5xx, throws StreamRefusedError with the status and body on a 4xx', async () => {
    await assert.rejects(read('/refused'), (error: unknown) => {
      assert.ok(error instanceof StreamRefusedError, 'a StreamRefusedError')
      assert.equal(error.status, 401)
      assert.deepEqual(error.body, { error: { code: 'UNAUTHORIZED', message: 'unknown token' } })
      return true
    })
    seen.length = 0
    const controller = new AbortController()
    const reading = read('/down', controller.signal)
    while (seen.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    controller.abort()
    assert.equal((await reading).outcome, 'aborted')
  })

  it('resolves aborted when the caller aborts a stream that never ends', async () => {
    const controller = new AbortController()
    const reading = read('/hang', controller.signal)
    setTimeout(() => {
      controller.abort()
    }, 50)
    assert.equal((await reading).outcome, 'aborted')
  })
})
