// Hostile RPC bodies sent to the simulator (issue 2): huge bodies before login, deep nesting.
// The simulator runs in a child process so that its memory can be measured and a crash seen.
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { ChildSimulator } from '../../src/simulator/testing/child-simulator.ts'
import { startChildSimulator } from '../../src/simulator/testing/child-simulator.ts'

const MiB = 1024 * 1024

interface Answer {
  readonly status: number
  readonly body: string
}

/** POSTs `body` (a string, or chunks streamed with backpressure until the server answers). */
async function post(
  url: string,
  path: string,
  body: string | { chunk: Buffer; count: number; prefix: string },
  headers: Record<string, string> = {},
): Promise<Answer & { readonly sentBytes: number }> {
  return new Promise((resolve, reject) => {
    let sentBytes = 0
    let answered = false
    const request = http.request(new URL(path, url), { method: 'POST', headers })
    request.on('response', (response) => {
      answered = true
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: text, sentBytes })
      })
      response.on('error', reject)
    })
    // Writes after the server refused and closed fail with EPIPE/ECONNRESET: expected here.
    request.on('error', (error) => {
      if (!answered) reject(error)
    })
    if (typeof body === 'string') {
      request.end(body)
      return
    }
    const write = async (): Promise<void> => {
      request.write(body.prefix)
      for (let i = 0; i < body.count && !answered && !request.destroyed; i++) {
        sentBytes += body.chunk.length
        // Let the answer in between writes, as a client that watches for an early refusal does.
        await new Promise((done) => setImmediate(done))
        if (!request.write(body.chunk)) {
          await new Promise<void>((done) => {
            request.once('drain', done)
            request.once('close', done)
          })
        }
      }
      // Answered early: stop sending, as a client does on a 413.
      if (!request.destroyed) request.end()
    }
    void write()
  })
}

function loginBody(user: string, password: string): string {
  return `<?xml version="1.0"?><methodCall><methodName>session.login_with_password</methodName><params><param><value>${user}</value></param><param><value>${password}</value></param></params></methodCall>`
}

describe('hostile RPC bodies to the simulator', () => {
  let sim: ChildSimulator
  let baselineRss: number

  before(async () => {
    sim = await startChildSimulator(['--no-data'], 1024)
    const { url, username, password } = sim.ready
    // Warm the RPC path so that the baseline includes what a normal call costs.
    assert.equal((await post(url, '/', loginBody(username, password))).status, 200)
    baselineRss = await sim.peakRssBytes()
  })
  after(() => sim.close())

  it(
    'a 63 MiB chunked body of <a/> before login is refused 413 after 64 KiB, RSS bounded, others served meanwhile',
    { timeout: 120_000 },
    async () => {
      const { url, username, password } = sim.ready
      const hostile = post(
        url,
        '/',
        { prefix: '<methodCall><params>', chunk: Buffer.from('<a/>'.repeat(MiB / 4)), count: 63 },
        { 'content-type': 'text/xml', 'transfer-encoding': 'chunked' },
      )
      const login = post(url, '/', loginBody(username, password))
      const [refused, other] = await Promise.all([hostile, login])
      assert.equal(refused.status, 413, refused.body)
      assert.match(refused.body, /larger than 65536 bytes/)
      assert.ok(refused.sentBytes < 63 * MiB, `the whole body was read (${refused.sentBytes} bytes)`)
      assert.equal(other.status, 200)
      assert.match(other.body, /OpaqueRef:/)
      const grown = (await sim.peakRssBytes()) - baselineRss
      assert.ok(grown < 32 * MiB, `the simulator grew by ${(grown / MiB).toFixed(1)} MiB`)
    },
  )

  it(
    'a declared Content-Length over XAPI’s 300 KiB is refused 413 before reading',
    { timeout: 60_000 },
    async () => {
      const answer = await post(
        sim.ready.url,
        '/jsonrpc',
        { prefix: '', chunk: Buffer.alloc(MiB, 0x20), count: 64 },
        { 'content-type': 'application/json', 'content-length': String(64 * MiB) },
      )
      assert.equal(answer.status, 413)
      assert.match(answer.body, /Content-Length 67108864/)
    },
  )

  it('a 20,000-deep XML body is a clean HTTP 500, and the server goes on', { timeout: 60_000 }, async () => {
    const { url, username, password } = sim.ready
    const deep = `<methodCall><methodName>VM.get_all</methodName><params><param>${'<a>'.repeat(20_000)}`
    const answer = await post(url, '/', deep)
    assert.equal(answer.status, 500)
    assert.match(answer.body, /at most 256 nested elements/)
    assert.equal((await post(url, '/', loginBody(username, password))).status, 200)
    assert.ok(sim.alive(), 'sim.alive()')
  })

  it(
    'a 20,000-deep JSON-RPC body after login is a clean HTTP 500, and the server goes on',
    { timeout: 60_000 },
    async () => {
      const { url, username, password } = sim.ready
      const login = await post(
        url,
        '/jsonrpc',
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'session.login_with_password',
          params: [username, password],
        }),
      )
      const session = (JSON.parse(login.body) as { result: string }).result
      const deepValue = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
      const body = `{"jsonrpc":"2.0","id":2,"method":"event.from","params":["${session}",${deepValue},"",1]}`
      const answer = await post(url, '/jsonrpc', body)
      assert.equal(answer.status, 500)
      assert.match(answer.body, /at most 64 nested arrays and objects/)
      assert.equal((await post(url, '/', loginBody(username, password))).status, 200)
      assert.ok(sim.alive(), 'sim.alive()')
    },
  )

  it(
    'a body between 64 and 300 KiB is served with a live session and refused without',
    { timeout: 60_000 },
    async () => {
      const { url, username, password } = sim.ready
      const login = await post(url, '/', loginBody(username, password))
      const session = /OpaqueRef:[0-9a-f-]{36}/.exec(login.body)?.[0] ?? assert.fail(login.body)
      const label = 'x'.repeat(200 * 1024)
      const call = (ref: string): string =>
        `<methodCall><methodName>task.create</methodName><params><param><value>${ref}</value></param><param><value>${label}</value></param><param><value></value></param></params></methodCall>`
      const served = await post(url, '/', call(session))
      assert.equal(served.status, 200)
      assert.match(served.body, /Success/)
      const refused = await post(url, '/', call('OpaqueRef:00000000-0000-0000-0000-000000000000'))
      assert.equal(refused.status, 413)
    },
  )
})
