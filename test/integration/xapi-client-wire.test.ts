// What the client sends to the simulator and what it gets back, captured by a pass-through proxy
// and compared with the envelopes of xapi.md §1.2–1.3; plus HTTP resources served through the
// simulator's router with their task completed in its database (events wake the client).
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

type Exchange = { path: string; request: string; status: number; contentType: string; response: string }

/** A proxy to `target` recording every exchange (bodies as text). */
async function startRecordingProxy(
  target: URL,
  log: Exchange[],
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const request = Buffer.concat(chunks)
      const upstream = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: req.headers },
        (answer) => {
          const parts: Buffer[] = []
          answer.on('data', (c: Buffer) => parts.push(c))
          answer.on('end', () => {
            const response = Buffer.concat(parts)
            log.push({
              path: req.url ?? '',
              request: request.toString('utf8'),
              status: answer.statusCode ?? 0,
              contentType: answer.headers['content-type'] ?? '',
              response: response.toString('utf8'),
            })
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(response)
          })
        },
      )
      upstream.end(request)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
    },
  }
}

describe('XAPI client ↔ simulator on the wire', () => {
  let sim: RunningSimulator
  before(async () => {
    sim = await startSimulator()
  })
  after(async () => {
    await sim.close()
  })

  it('JSON-RPC: v2 requests with the session first; results and {code:1,message,data} errors (§1.3)', async () => {
    const log: Exchange[] = []
    const proxy = await startRecordingProxy(new URL(sim.url), log)
    const client = new HttpXapiClient({ url: proxy.url, user: sim.username, password: sim.password })
    try {
      const vm = sim.pool.vms.get('archive') ?? ''
      await client.getRecord('VM', vm)
      await assert.rejects(client.call('VM.get_record', ['OpaqueRef:NULL']))
    } finally {
      await client.disconnect()
      await proxy.close()
    }
    const [login, get, bad] = log
    assert.equal(login?.path, '/jsonrpc')
    assert.deepEqual(JSON.parse(login.request), {
      jsonrpc: '2.0',
      method: 'session.login_with_password',
      params: [sim.username, sim.password, '1.1', 'xapi-backup'],
      id: 0,
    })
    const session = (JSON.parse(login.response) as { result: string }).result
    assert.match(session, /^OpaqueRef:/)
    assert.equal(login.contentType, 'application/json')
    assert.deepEqual(Object.keys(JSON.parse(get?.request ?? '') as object), [
      'jsonrpc',
      'method',
      'params',
      'id',
    ])
    assert.equal((JSON.parse(get?.request ?? '') as { params: string[] }).params[0], session)
    assert.deepEqual(Object.keys(JSON.parse(get?.response ?? '') as object).sort(), [
      'id',
      'jsonrpc',
      'result',
    ])
    assert.deepEqual((JSON.parse(bad?.response ?? '') as { error: unknown }).error, {
      code: 1,
      message: 'HANDLE_INVALID',
      data: ['VM', 'OpaqueRef:NULL'],
    })
    assert.equal(log.at(-1)?.request.includes('session.logout'), true)
  })

  it('XML-RPC: methodCall to POST / and the Status/Value envelope back (§1.2)', async () => {
    const log: Exchange[] = []
    const proxy = await startRecordingProxy(new URL(sim.url), log)
    const client = new HttpXapiClient({
      url: proxy.url,
      user: sim.username,
      password: sim.password,
      transport: 'xml-rpc',
    })
    try {
      await client.call('VM.get_all')
    } finally {
      await client.disconnect()
      await proxy.close()
    }
    const get = log[1]
    assert.equal(get?.path, '/')
    assert.match(
      get.request,
      /^<\?xml version="1\.0"\?><methodCall><methodName>VM\.get_all<\/methodName><params><param><value><string>OpaqueRef:[^<]+<\/string><\/value><\/param><\/params><\/methodCall>$/,
    )
    assert.equal(get.contentType.split(';')[0], 'text/xml')
    assert.match(
      get.response,
      /<methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success<\/value><\/member><member><name>Value<\/name><value><array><data>/,
    )
  })

  it('getResource and putResource through the simulator, their tasks completed in its database', async () => {
    const client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    const finish = (url: URL, result: string): void => {
      sim.db.update('task', url.searchParams.get('task_id') ?? '', { status: 'success', progress: 1, result })
    }
    sim.registerHttpHandler('/test_download', (req, res, url) => {
      assert.ok(
        sim.db.find('session', url.searchParams.get('session_id') ?? '') !== undefined,
        "sim.db.find('session', url.searchParams.get('session_id') ?? '') !== undefined",
      )
      res.writeHead(200, { connection: 'close', 'content-type': 'application/octet-stream' })
      res.write('part one, ')
      finish(url, '')
      res.end('part two')
    })
    let uploaded = 0
    sim.registerHttpHandler('/test_upload', (req, res, url) => {
      res.writeHead(200, { connection: 'close' })
      req.on('data', (chunk: Buffer) => (uploaded += chunk.length))
      req.on('end', () => {
        finish(url, '<value>OpaqueRef:uploaded</value>')
        res.end()
      })
    })
    try {
      const download = await client.getResource('/test_download', { vdi: 'x' })
      assert.equal(await text(download.body), 'part one, part two')
      assert.equal(await download.result(), '')
      const result = await client.putResource(
        '/test_upload',
        {},
        Readable.from([Buffer.alloc(5000), Buffer.alloc(3000)]),
        {
          lengthBytes: 8000,
        },
      )
      assert.equal(result, 'OpaqueRef:uploaded')
      assert.equal(uploaded, 8000)
      assert.equal(
        sim.db
          .all('task')
          .filter(([, t]) => typeof t.name_label === 'string' && t.name_label.startsWith('xapi-backup'))
          .length,
        0,
      )
    } finally {
      await client.disconnect()
    }
  })
})
