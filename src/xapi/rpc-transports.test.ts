import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import { createJsonRpcTransport, createSelectingTransport, createXmlRpcTransport } from './rpc-transports.ts'
import { MAX_RPC_ANSWER_BYTES } from './http-request.ts'
import { XapiError, XapiProtocolError } from './xapi-error.ts'

// Answers each POST with the next canned [status, content-type, body].
async function cannedServer(
  answers: [number, string, string][],
): Promise<{ endpoint: { baseUrl: URL; agent: http.Agent }; paths: string[] }> {
  const paths: string[] = []
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '')
    req.resume()
    req.on('end', () => {
      const [status, type, body] = answers.shift() ?? [500, 'text/plain', 'no more answers']
      res.writeHead(status, { 'content-type': type }).end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  after(() => {
    server.closeAllConnections()
    server.close()
  })
  const baseUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  return { endpoint: { baseUrl, agent: new http.Agent() }, paths }
}

const options = { timeoutMs: 5000 }

describe('RPC transports', () => {
  it('JSON-RPC: accepts v1 answers, rejects wrong ids, non-JSON bodies and other content types', async () => {
    const { endpoint } = await cannedServer([
      [200, 'application/json', '{"result":null,"error":["HANDLE_INVALID","VM","OpaqueRef:x"],"id":0}'],
      [200, 'application/json', '{"result":"v1 ok","error":null,"id":1}'],
      [200, 'application/json', '{"jsonrpc":"2.0","result":"late","id":7}'],
      [200, 'application/json', '<html>'],
      [200, 'text/html', '<html>proxy</html>'],
    ])
    const json = createJsonRpcTransport(endpoint)
    await assert.rejects(
      json.call('VM.get_record', [], options),
      (e: unknown) =>
        e instanceof XapiError && e.code === 'HANDLE_INVALID' && e.params.join() === 'VM,OpaqueRef:x',
    )
    assert.equal(await json.call('VM.get_record', [], options), 'v1 ok')
    await assert.rejects(json.call('m', [], options), /expected id 2, got 7/)
    await assert.rejects(json.call('m', [], options), XapiProtocolError)
    await assert.rejects(
      json.call('m', [], options),
      /expected HTTP 200 application\/json, got HTTP 200 text\/html/,
    )
  })

  it('XML-RPC: an HTTP 500 HTML page is a protocol error naming the status', async () => {
    const { endpoint, paths } = await cannedServer([
      [500, 'text/html', '<html><body><h1>HTTP 500 internal server error</h1></body></html>'],
    ])
    await assert.rejects(
      createXmlRpcTransport(endpoint).call('VM.get_all', [], options),
      /expected HTTP 200, got HTTP 500 HTTP 500 internal server error/,
    )
    assert.deepEqual(paths, ['/'])
  })

  it('auto: keeps XML-RPC for good once /jsonrpc answered something else', async () => {
    const success =
      '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>ok</value></member></struct></value></param></params></methodResponse>'
    const { endpoint, paths } = await cannedServer([
      [404, 'text/html', 'not found'],
      [200, 'text/xml', success],
      [200, 'text/xml', success],
    ])
    const auto = createSelectingTransport(endpoint, 'auto')
    assert.equal(auto.kind, undefined)
    assert.equal(await auto.call('a', [], options), 'ok')
    assert.equal(await auto.call('b', [], options), 'ok')
    assert.equal(auto.kind, 'xml-rpc')
    assert.deepEqual(paths, ['/jsonrpc', '/', '/'])
  })

  it('a hostile server: 20,000-deep JSON and XML answers are protocol errors, not stack overflows', async () => {
    const deepJson = `{"jsonrpc":"2.0","result":${'['.repeat(20_000)}${']'.repeat(20_000)},"id":0}`
    const deepXml = `<?xml version="1.0"?><methodResponse><params><param>${'<value><array><data>'.repeat(7_000)}${'</data></array></value>'.repeat(7_000)}</param></params></methodResponse>`
    const { endpoint } = await cannedServer([
      [200, 'application/json', deepJson],
      [200, 'text/xml', deepXml],
    ])
    await assert.rejects(
      createJsonRpcTransport(endpoint).call('VM.get_all', [], options),
      (e: unknown) =>
        e instanceof XapiProtocolError && /at most 64 nested arrays and objects, got 20001/.test(e.message),
    )
    await assert.rejects(
      createXmlRpcTransport(endpoint).call('VM.get_all', [], options),
      (e: unknown) => e instanceof XapiProtocolError && /at most 256 nested elements/.test(e.message),
    )
  })

  it(
    'a hostile server: an answer over MAX_RPC_ANSWER_BYTES is a protocol error, read no further',
    { timeout: 60_000 },
    async () => {
      let sent = 0
      const server = http.createServer((req, res) => {
        req.resume()
        res.writeHead(200, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(1024 * 1024, 0x20)
        const pump = (): void => {
          while (!res.destroyed && sent <= 2 * MAX_RPC_ANSWER_BYTES) {
            sent += chunk.length
            if (!res.write(chunk)) {
              res.once('drain', pump)
              return
            }
          }
          res.end()
        }
        pump()
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      after(() => {
        server.closeAllConnections()
        server.close()
      })
      const baseUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      await assert.rejects(
        // 256 MiB on a busy machine may take longer than the other tests' 5 s round trip.
        createJsonRpcTransport({ baseUrl, agent: new http.Agent() }).call('VM.get_all_records', [], {
          timeoutMs: 60_000,
        }),
        (e: unknown) => e instanceof XapiProtocolError && /at most 268435456 bytes/.test(e.message),
      )
      assert.ok(sent < 2 * MAX_RPC_ANSWER_BYTES, `the client read ${sent} bytes`)
    },
  )
})
