import assert from 'node:assert/strict'
import { request } from 'node:https'
import { describe, it } from 'node:test'
import { startSimulator } from './index.ts'

function postTls(url: string, ca: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/jsonrpc`, { method: 'POST', ca }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () => {
        resolve(text)
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('simulator TLS', () => {
  it('serves HTTPS with a self-signed certificate that verifies as its own CA', async (t) => {
    const sim = await startSimulator({ tls: true, password: 'pw' }).catch((error: unknown) => error)
    if (sim instanceof Error && (sim as { code?: string }).code === 'SIMULATOR_TLS_UNAVAILABLE') {
      if (process.env.CI === 'true') throw sim
      t.skip('openssl is not installed')
      return
    }
    assert.ok(!(sim instanceof Error), '!(sim instanceof Error)')
    const running = sim as Awaited<ReturnType<typeof startSimulator>>
    try {
      assert.match(running.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      assert.match(running.caCertPem ?? '', /^-----BEGIN CERTIFICATE-----/)
      const body = JSON.stringify({
        jsonrpc: '2.0',
        method: 'session.login_with_password',
        params: ['root', 'pw'],
        id: 1,
      })
      assert.match(await postTls(running.url, running.caCertPem ?? '', body), /"result":"OpaqueRef:/)
      await assert.rejects(postTls(running.url, '', body))
    } finally {
      await running.close()
    }
  })
})
