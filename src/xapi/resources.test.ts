import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { after, describe, it } from 'node:test'
import { HttpXapiClient } from './http-xapi-client.ts'
import type { HttpXapiClientOptions } from './http-xapi-client.ts'
import { FakeXapiFailure, param, startFakeXapi, withSessions } from './testing/fake-xapi-server.ts'
import type { FakeXapi } from './testing/fake-xapi-server.ts'
import { UNKNOWN_LENGTH_BYTES } from './types.ts'
import { XapiError, XapiHttpError, XapiTransportError } from './xapi-error.ts'

type Seen = { method: string; url: URL; headers: IncomingMessage['headers']; bodyBytes: number }
const servers: FakeXapi[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

// A fake pool: tasks live in `tasks`; HTTP handlers complete them like XAPI does (xapi.md §3).
async function setup(
  http: (req: IncomingMessage, res: ServerResponse, seen: Seen, finish: (f: object) => void) => void,
  clientOptions: Partial<HttpXapiClientOptions> = {},
) {
  const tasks = new Map<string, Record<string, unknown>>()
  const seen: Seen[] = []
  let next = 0
  const handler = withSessions((call) => {
    const ref = param(call, 1)
    switch (call.method) {
      case 'task.create':
        tasks.set(`OpaqueRef:task-${++next}`, {
          status: 'pending',
          result: '',
          error_info: [],
          name_label: param(call, 1),
        })
        return `OpaqueRef:task-${next}`
      case 'task.get_record': {
        const task = tasks.get(ref)
        if (task === undefined) return fail('HANDLE_INVALID', 'task', ref)
        return task as never
      }
      case 'task.destroy':
        tasks.delete(ref)
        return ''
      case 'event.inject':
        throw new FakeXapiFailure('MESSAGE_METHOD_UNKNOWN', 'event.inject')
      default:
        return fail('MESSAGE_METHOD_UNKNOWN', call.method)
    }
  })
  const server = await startFakeXapi({
    handler,
    http: (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const entry: Seen = { method: req.method ?? '', url, headers: req.headers, bodyBytes: 0 }
      seen.push(entry)
      if (!handler.sessions.has(url.searchParams.get('session_id') ?? '')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="xapi"' }).end()
        return
      }
      const task = tasks.get(url.searchParams.get('task_id') ?? '')
      http(req, res, entry, (final) => task && Object.assign(task, final))
    },
  })
  servers.push(server)
  const client = new HttpXapiClient({
    url: server.url,
    user: 'root',
    password: 'secret',
    taskPollIntervalMs: 1,
    ...clientOptions,
  })
  return { client, seen, tasks, handler }
}

function fail(code: string, ...params: string[]): never {
  throw new FakeXapiFailure(code, ...params)
}

describe('getResource', () => {
  it('streams a close-delimited body with session_id and task_id, then yields the task result', async () => {
    const { client, seen, tasks } = await setup((_req, res, _seen, finish) => {
      // XAPI: headers first, no Content-Length, body ends when the connection closes (xapi.md §3).
      res.writeHead(200, { 'content-type': 'application/octet-stream', connection: 'close' })
      res.write('chunk-1 ')
      setImmediate(() => {
        finish({ status: 'success', result: '' })
        res.end('chunk-2')
      })
    })
    const download = await client.getResource('/export', { ref: 'OpaqueRef:snap', use_compression: false })
    assert.equal(await text(download.body), 'chunk-1 chunk-2')
    assert.equal(await download.result(), '')
    const query = seen[0]?.url.searchParams
    assert.equal(query?.get('ref'), 'OpaqueRef:snap')
    assert.equal(query.get('use_compression'), 'false')
    assert.equal(query.get('session_id'), 'OpaqueRef:session-1')
    assert.equal(query.get('task_id'), download.taskRef)
    assert.equal(tasks.size, 0, 'the task the client created is destroyed once settled')
  })

  it('turns a 500 answer into the XapiError of the failed task, without the session in the message', async () => {
    const { client } = await setup((_req, res, _seen, finish) => {
      finish({
        status: 'failure',
        error_info: ['VM_BAD_POWER_STATE', 'OpaqueRef:vm', 'halted, suspended', 'running'],
      })
      res
        .writeHead(500, { 'content-type': 'text/html' })
        .end('<html><body><h1>HTTP 500 internal server error</h1></body></html>')
    })
    await assert.rejects(client.getResource('/export', { ref: 'OpaqueRef:vm' }), (error: unknown) => {
      assert.ok(
        error instanceof XapiError && error.code === 'VM_BAD_POWER_STATE',
        "error instanceof XapiError && error.code === 'VM_BAD_POWER_STATE'",
      )
      assert.deepEqual(error.params, ['OpaqueRef:vm', 'halted, suspended', 'running'])
      return true
    })
    const plain = await setup((_req, res) => res.writeHead(404).end('not here'))
    await assert.rejects(plain.client.getResource('/nowhere', {}), (error: unknown) => {
      assert.ok(
        error instanceof XapiHttpError && error.status === 404,
        'error instanceof XapiHttpError && error.status === 404',
      )
      assert.doesNotMatch(error.message, /session/)
      return true
    })
  })

  it('logs in again once when the handler answers 401', async () => {
    let first = true
    const { client, seen, handler } = await setup((_req, res) => {
      if (first) {
        // The session died between task.create and the GET (xapi.md §8.5 item 2).
        first = false
        handler.sessions.clear()
        res.writeHead(401).end()
      } else res.writeHead(200).end('ok')
    })
    const download = await client.getResource('/export', {})
    assert.equal(await text(download.body), 'ok')
    assert.deepEqual(
      seen.map((s) => s.url.searchParams.get('session_id')),
      ['OpaqueRef:session-1', 'OpaqueRef:session-2'],
    )
  })
})

describe('getResource failures while streaming', () => {
  const stall = (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { connection: 'close' })
    res.write('first bytes')
  }

  it('fails a body whose socket stays silent with a typed timeout', async () => {
    const { client } = await setup(stall, { transferIdleTimeoutMs: 300 })
    // On a loaded machine the headers themselves may come later than the idle timeout: the same
    // typed timeout then fails getResource, which is as right (the socket was silent that long).
    const download = async () => text((await client.getResource('/export', {})).body)
    await assert.rejects(download(), (error: unknown) => {
      assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
      assert.equal(error.failure, 'timeout')
      assert.equal(error.method, 'GET /export')
      assert.equal(error.retryable, false)
      return true
    })
  })

  it('fails the body with the abort reason when the signal aborts mid-stream', async () => {
    const { client } = await setup(stall)
    const controller = new AbortController()
    const download = await client.getResource('/export', {}, { signal: controller.signal })
    const reading = text(download.body)
    controller.abort(new Error('operator stop'))
    await assert.rejects(reading, /operator stop/)
  })
})

describe('putResource', () => {
  function readAll(req: IncomingMessage, seen: Seen, done: () => void): void {
    req.on('data', (chunk: Buffer) => (seen.bodyBytes += chunk.length))
    req.on('end', done)
    req.on('close', done)
  }

  it('streams an AsyncIterable with Content-Length and returns the decoded task result', async () => {
    const { client, seen } = await setup((req, res, entry, finish) => {
      res.writeHead(200, { connection: 'close' })
      readAll(req, entry, () => {
        finish({ status: 'success', result: '<value>OpaqueRef:vdi</value>' })
        res.end()
      })
    })
    async function* body() {
      for (let i = 0; i < 64; i++) {
        await Promise.resolve()
        yield new Uint8Array(1024).fill(i)
      }
    }
    const result = await client.putResource(
      '/import_raw_vdi',
      { vdi: 'OpaqueRef:vdi', format: 'vhd' },
      body(),
      { lengthBytes: 65536 },
    )
    assert.equal(result, 'OpaqueRef:vdi')
    assert.equal(seen[0]?.method, 'PUT')
    assert.equal(seen[0].headers['content-length'], '65536')
    assert.equal(seen[0].headers['transfer-encoding'], undefined)
    assert.equal(seen[0].bodyBytes, 65536)
    assert.equal(seen[0].url.searchParams.get('format'), 'vhd')
  })

  it('with UNKNOWN_LENGTH_BYTES sends 1 PiB as length and closes the connection after the data', async () => {
    const { client, seen } = await setup((req, res, entry, finish) => {
      res.writeHead(200, { connection: 'close' })
      readAll(req, entry, () => {
        finish({
          status: 'success',
          result: '<value><array><data><value>OpaqueRef:vm</value></data></array></value>',
        })
      })
    })
    const result = await client.putResource(
      '/import',
      { sr_id: 'OpaqueRef:sr' },
      Readable.from([Buffer.alloc(3000)]),
      {
        lengthBytes: UNKNOWN_LENGTH_BYTES,
      },
    )
    assert.deepEqual(result, ['OpaqueRef:vm'])
    assert.equal(seen[0]?.headers['content-length'], '1125899906842624')
    assert.equal(seen[0].bodyBytes, 3000)
  })

  it('surfaces a task failure of the import and validates lengthBytes', async () => {
    const { client } = await setup((req, res, entry, finish) => {
      res.writeHead(200, { connection: 'close' })
      readAll(req, entry, () => {
        finish({ status: 'failure', error_info: ['IMPORT_ERROR', 'bad checksum'] })
        res.end()
      })
    })
    await assert.rejects(
      client.putResource('/import', {}, Readable.from([Buffer.alloc(10)]), { lengthBytes: 10 }),
      (error: unknown) =>
        error instanceof XapiError && error.code === 'IMPORT_ERROR' && error.params[0] === 'bad checksum',
    )
    await assert.rejects(client.putResource('/import', {}, Readable.from([]), { lengthBytes: -1 }), {
      code: 'XAPI_BAD_ARGUMENT',
    })
  })
})
