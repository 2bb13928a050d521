import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import { HttpXapiClient } from './http-xapi-client.ts'
import type { HttpXapiClientOptions } from './http-xapi-client.ts'
import { DROP, FakeXapiFailure, param, startFakeXapi, withSessions } from './testing/fake-xapi-server.ts'
import type { FakeHandler, FakeXapi } from './testing/fake-xapi-server.ts'
import type { XapiValue } from './types.ts'
import { XapiError, XapiTransportError } from './xapi-error.ts'

const servers: FakeXapi[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

async function setup(
  handler: FakeHandler,
  options: Partial<HttpXapiClientOptions> & { jsonRpc?: boolean } = {},
) {
  const { jsonRpc, ...clientOptions } = options
  const server = await startFakeXapi({ handler, ...(jsonRpc === undefined ? {} : { jsonRpc }) })
  servers.push(server)
  const client = new HttpXapiClient({
    url: server.url,
    user: 'root',
    password: 'secret',
    retryDelayMs: 1,
    ...clientOptions,
  })
  return { server, client }
}

const vmRecord = { uuid: 'u-1', name_label: 'vm', memory_static_max: 1073741824, VBDs: [] }

describe('HttpXapiClient wire shapes', () => {
  it('sends JSON-RPC 2.0 bodies to POST /jsonrpc (xapi.md §1.3)', async () => {
    const { server, client } = await setup(
      withSessions(() => vmRecord),
      { transport: 'json-rpc' },
    )
    const record = await client.getRecord('VM', 'OpaqueRef:vm')
    assert.equal(record.memory_static_max, 1073741824)
    const [login, get] = server.calls
    assert.equal(login?.path, '/jsonrpc')
    assert.equal(login.contentType, 'application/json')
    assert.deepEqual(JSON.parse(login.raw), {
      jsonrpc: '2.0',
      method: 'session.login_with_password',
      params: ['root', 'secret', '1.1', 'xapi-backup'],
      id: 0,
    })
    assert.deepEqual(JSON.parse(get?.raw ?? ''), {
      jsonrpc: '2.0',
      method: 'VM.get_record',
      params: ['OpaqueRef:session-1', 'OpaqueRef:vm'],
      id: 1,
    })
    await client.disconnect()
  })

  it('sends XML-RPC methodCalls to POST / and normalises int fields of records (xapi.md §1.2)', async () => {
    const { server, client } = await setup(
      withSessions(() => vmRecord),
      { transport: 'xml-rpc' },
    )
    const record = await client.getRecord('VM', 'OpaqueRef:vm')
    // The server sent <value>1073741824</value>: a digit string turned back into a number.
    assert.equal(record.memory_static_max, 1073741824)
    assert.equal(server.calls[0]?.path, '/')
    assert.equal(server.calls[0].contentType, 'text/xml')
    assert.equal(
      server.calls[1]?.raw,
      '<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params>' +
        '<param><value><string>OpaqueRef:session-1</string></value></param>' +
        '<param><value><string>OpaqueRef:vm</string></value></param></params></methodCall>',
    )
  })

  it('auto-detects: JSON-RPC when /jsonrpc answers, XML-RPC when it does not', async () => {
    const json = await setup(withSessions(() => 'ok'))
    await json.client.connect()
    assert.equal(json.client.transportKind, 'json-rpc')
    const xml = await setup(
      withSessions(() => 'ok'),
      { jsonRpc: false },
    )
    assert.equal(await xml.client.call('pool.get_all', []), 'ok')
    assert.equal(xml.client.transportKind, 'xml-rpc')
    assert.deepEqual(
      xml.server.calls.map((c) => `${c.transport} ${c.method}`),
      ['xml-rpc session.login_with_password', 'xml-rpc pool.get_all'],
    )
  })
})

describe('HttpXapiClient errors and sessions', () => {
  for (const transport of ['json-rpc', 'xml-rpc'] as const) {
    it(`surfaces XAPI errors as XapiError over ${transport}`, async () => {
      const { client } = await setup(
        withSessions((call) => {
          throw new FakeXapiFailure('HANDLE_INVALID', 'VM', param(call, 1))
        }),
        { transport },
      )
      await assert.rejects(client.call('VM.get_record', ['OpaqueRef:gone']), (error: unknown) => {
        assert.ok(error instanceof XapiError, 'error instanceof XapiError')
        assert.equal(error.code, 'HANDLE_INVALID')
        assert.deepEqual(error.params, ['VM', 'OpaqueRef:gone'])
        assert.equal(error.method, 'VM.get_record')
        return true
      })
    })
  }

  it('logs in again on SESSION_INVALID and replays the call once, without leaking the session ref', async () => {
    const handler = withSessions(() => 'done')
    const { server, client } = await setup(handler)
    await client.connect()
    handler.sessions.clear()
    assert.equal(await client.call('VM.add_tags', ['OpaqueRef:vm', 'x']), 'done')
    assert.deepEqual(
      server.calls.map((c) => `${c.method} ${param(c, 0)}`),
      [
        'session.login_with_password root',
        'VM.add_tags OpaqueRef:session-1',
        'session.login_with_password root',
        'VM.add_tags OpaqueRef:session-2',
      ],
    )
    // A session that stays invalid surfaces, redacted.
    const stubborn = await setup(
      withSessions(() => {
        throw new FakeXapiFailure('SESSION_INVALID', 'OpaqueRef:secret-session')
      }),
    )
    await assert.rejects(stubborn.client.call('VM.get_all'), (error: unknown) => {
      assert.ok(
        error instanceof XapiError && error.code === 'SESSION_INVALID',
        "error instanceof XapiError && error.code === 'SESSION_INVALID'",
      )
      assert.doesNotMatch(`${error.message} ${JSON.stringify(error.toJSON())}`, /secret-session/)
      return true
    })
    assert.equal(stubborn.server.calls.filter((c) => c.method === 'VM.get_all').length, 2)
  })

  it('follows HOST_IS_SLAVE to the master address, keeping scheme and port (xapi.md §1.4)', async () => {
    const master = await startFakeXapi({
      handler: withSessions(() => 'from master'),
      host: '127.0.0.2',
      port: 0,
    })
    servers.push(master)
    const slave = await startFakeXapi({
      handler: () => {
        throw new FakeXapiFailure('HOST_IS_SLAVE', `127.0.0.2:${master.port}`)
      },
    })
    servers.push(slave)
    const client = new HttpXapiClient({ url: slave.url, user: 'root', password: 'secret' })
    assert.equal(await client.call('pool.get_all'), 'from master')
    assert.equal(client.url, `http://127.0.0.2:${master.port}/`)
    assert.equal(slave.calls.length, 1)
  })

  it('rejects bad credentials with SESSION_AUTHENTICATION_FAILED and never echoes the password', async () => {
    const { client } = await setup(
      withSessions(() => ''),
      { password: 'wrong-pw' },
    )
    await assert.rejects(client.connect(), (error: unknown) => {
      assert.ok(
        error instanceof XapiError && error.code === 'SESSION_AUTHENTICATION_FAILED',
        "error instanceof XapiError && error.code === 'SESSION_AUTHENTICATION_FAILED'",
      )
      assert.doesNotMatch(JSON.stringify(error.toJSON()), /wrong-pw/)
      return true
    })
  })
})

describe('HttpXapiClient transport failures', () => {
  it('retries a dropped read-only call, and reports it typed and retryable when tries run out', async () => {
    let drops = 1
    const handler = withSessions(() => (drops-- > 0 ? DROP : 'ok'))
    const { server, client } = await setup(handler)
    assert.equal(await client.call('VM.get_all'), 'ok')
    assert.equal(server.calls.filter((c) => c.method === 'VM.get_all').length, 2)

    const once = await setup(
      withSessions(() => DROP),
      { safeCallTries: 1 },
    )
    await assert.rejects(once.client.call('VM.get_record', ['OpaqueRef:vm']), (error: unknown) => {
      assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
      assert.equal(error.failure, 'connection-lost')
      assert.equal(error.retryable, true)
      assert.equal(error.method, 'VM.get_record')
      return true
    })
  })

  it('never resends a side-effecting call that may have reached the server', async () => {
    const { server, client } = await setup(withSessions(() => DROP))
    await assert.rejects(client.call('VM.snapshot', ['OpaqueRef:vm', 'snap']), (error: unknown) => {
      assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
      assert.equal(error.retryable, false)
      assert.equal(error.requestMayHaveReachedServer, true)
      return true
    })
    assert.equal(server.calls.filter((c) => c.method === 'VM.snapshot').length, 1)
  })

  it('reports a refused connection as not delivered, hence retryable even for side effects', async () => {
    const { server, client } = await setup(
      withSessions(() => ''),
      { safeCallTries: 1 },
    )
    await server.close()
    await assert.rejects(client.connect(), (error: unknown) => {
      assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
      assert.equal(error.failure, 'connect')
      assert.equal(error.retryable, true)
      return true
    })
  })

  it('times out a call with a typed error and honours an abort signal', async () => {
    const { client } = await setup(
      withSessions(() => new Promise<never>(() => undefined)),
      { safeCallTries: 1 },
    )
    await client.connect()
    await assert.rejects(client.call('VM.get_all', [], { timeoutMs: 20 }), (error: unknown) => {
      assert.ok(error instanceof XapiTransportError, 'error instanceof XapiTransportError')
      assert.equal(error.failure, 'timeout')
      return true
    })
    const controller = new AbortController()
    const pending = client.call('VM.snapshot', ['OpaqueRef:vm', 's'], { signal: controller.signal })
    controller.abort(new Error('stop here'))
    await assert.rejects(pending, /stop here/)
  })
})

describe('HttpXapiClient tasks', () => {
  function taskServer(final: Record<string, XapiValue>, options: { events?: boolean } = {}) {
    const seen: string[] = []
    let reads = 0
    const pending = { status: 'pending', result: '', error_info: [], name_label: 'Async.VM.snapshot' }
    const done = { ...pending, ...final }
    const handler = withSessions((call) => {
      seen.push(call.method)
      switch (call.method) {
        case 'Async.VM.snapshot':
          return 'OpaqueRef:task-1'
        case 'event.inject':
          if (options.events === false) throw new FakeXapiFailure('MESSAGE_METHOD_UNKNOWN', 'event.inject')
          return '00000000000000000005,00000000000000000000'
        case 'task.get_record':
          return reads++ < 2 ? pending : done
        case 'event.from':
          return {
            events: [
              { id: '6', class: 'task', operation: 'mod', ref: 'OpaqueRef:task-1', snapshot: done as never },
            ],
            valid_ref_counts: { task: 1 },
            token: '00000000000000000006,00000000000000000000',
          }
        case 'task.destroy':
        case 'task.cancel':
          return ''
        default:
          throw new FakeXapiFailure('MESSAGE_METHOD_UNKNOWN', call.method)
      }
    })
    return { handler, seen }
  }

  for (const transport of ['json-rpc', 'xml-rpc'] as const) {
    it(`decodes the XML-RPC-encoded result of a successful task over ${transport} (xapi.md §1.6)`, async () => {
      const { handler, seen } = taskServer({ status: 'success', result: '<value>OpaqueRef:snap</value>' })
      const { client } = await setup(handler, { transport })
      assert.equal(await client.callAsync('VM.snapshot', ['OpaqueRef:vm', 'snap']), 'OpaqueRef:snap')
      assert.deepEqual(seen, [
        'Async.VM.snapshot',
        'event.inject',
        'task.get_record',
        'event.from',
        'task.destroy',
      ])
    })
  }

  it('surfaces a failed task as XapiError with its error_info code and params', async () => {
    const { handler } = taskServer({
      status: 'failure',
      error_info: ['VM_BAD_POWER_STATE', 'OpaqueRef:vm', 'halted', 'running'],
    })
    const { client } = await setup(handler)
    await assert.rejects(client.callAsync('VM.snapshot', ['OpaqueRef:vm', 'snap']), (error: unknown) => {
      assert.ok(error instanceof XapiError, 'error instanceof XapiError')
      assert.equal(error.code, 'VM_BAD_POWER_STATE')
      assert.deepEqual(error.params, ['OpaqueRef:vm', 'halted', 'running'])
      assert.equal(error.method, 'VM.snapshot')
      return true
    })
  })

  it('falls back to polling task.get_record when the server has no events', async () => {
    const { handler, seen } = taskServer({ status: 'success', result: '' }, { events: false })
    const clock = createFixedClock()
    const { client } = await setup(handler, { clock, taskPollIntervalMs: 250 })
    assert.equal(await client.callAsync('VM.snapshot', ['OpaqueRef:vm', 'snap']), '')
    assert.deepEqual(seen.filter((m) => m === 'task.get_record').length, 3)
    assert.equal(clock.sleptMs, 500)
  })

  it('cancels the task when the signal aborts while waiting on event.from', async () => {
    const cancelled: string[] = []
    let eventFromReached: () => void = () => undefined
    const waiting = new Promise<void>((resolve) => (eventFromReached = resolve))
    const handler = withSessions((call) => {
      if (call.method === 'Async.VM.snapshot') return 'OpaqueRef:task-2'
      if (call.method === 'event.inject') return '1,0'
      if (call.method === 'task.get_record') return { status: 'pending', result: '', error_info: [] }
      if (call.method === 'task.cancel') {
        cancelled.push(param(call, 1))
        return ''
      }
      eventFromReached()
      return new Promise<never>(() => undefined)
    })
    const { client } = await setup(handler)
    const controller = new AbortController()
    const pending = client.callAsync('VM.snapshot', ['OpaqueRef:vm', 'snap'], { signal: controller.signal })
    await waiting
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    assert.deepEqual(cancelled, ['OpaqueRef:task-2'])
  })
})
