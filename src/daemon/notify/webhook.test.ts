import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NotifyError } from './notify-error.ts'
import { startHttpSink } from './testing/http-sink.ts'
import { sampleReport } from './testing/sample-report.ts'
import { sendWebhook, webhookBody } from './webhook.ts'

function assertNotifyError(error: unknown, code: string, pattern: RegExp): true {
  assert.ok(error instanceof NotifyError, `a NotifyError, got ${String(error)}`)
  assert.equal(error.code, code)
  assert.match(error.message, pattern)
  return true
}

describe('sendWebhook', () => {
  it('POSTs the report as JSON with its content type and user agent', { timeout: 10_000 }, async () => {
    const sink = await startHttpSink({ status: 204 })
    try {
      const report = sampleReport()
      await sendWebhook(`${sink.url}/hooks/abc?x=1`, report)
      assert.equal(sink.requests.length, 1)
      const [request] = sink.requests
      assert.equal(request?.method, 'POST')
      assert.equal(request.url, '/hooks/abc?x=1')
      assert.equal(request.headers['content-type'], 'application/json')
      assert.equal(request.headers['user-agent'], 'xapi-backup')
      assert.deepEqual(JSON.parse(request.body), webhookBody(report))
      assert.equal(
        (JSON.parse(request.body) as { text: string }).text.startsWith('[xapi-backup] nightly: failure'),
        true,
      )
    } finally {
      await sink.close()
    }
  })

  it('sends URL credentials as Basic authentication, not in the URL', { timeout: 10_000 }, async () => {
    const sink = await startHttpSink({ status: 200 })
    try {
      await sendWebhook(sink.url.replace('http://', 'http://hook%40user:p%3Ass@') + '/x', sampleReport())
      assert.equal(
        sink.requests[0]?.headers.authorization,
        `Basic ${Buffer.from('hook@user:p:ss').toString('base64')}`,
      )
    } finally {
      await sink.close()
    }
  })

  it('a 500 answer is an error with the status', { timeout: 10_000 }, async () => {
    const sink = await startHttpSink({ status: 500 })
    try {
      await assert.rejects(sendWebhook(sink.url, sampleReport()), (error) =>
        assertNotifyError(
          error,
          'WEBHOOK_HTTP_STATUS',
          /^webhook http:\/\/127\.0\.0\.1:\d+: answered HTTP 500 Internal Server Error$/,
        ),
      )
    } finally {
      await sink.close()
    }
  })

  it('a redirect is not followed, even less to another host', { timeout: 10_000 }, async () => {
    const elsewhere = await startHttpSink({ status: 200 })
    const sink = await startHttpSink({ status: 307, headers: { location: `${elsewhere.url}/steal` } })
    try {
      await assert.rejects(sendWebhook(sink.url, sampleReport()), (error) =>
        assertNotifyError(
          error,
          'WEBHOOK_REDIRECT',
          /answered HTTP 307 \(a redirect\); redirects are not followed/,
        ),
      )
      assert.equal(elsewhere.requests.length, 0, 'the redirect target got nothing')
    } finally {
      await Promise.all([sink.close(), elsewhere.close()])
    }
  })

  it('a server that never answers times out instead of hanging', { timeout: 10_000 }, async () => {
    const sink = await startHttpSink('hang')
    try {
      await assert.rejects(sendWebhook(sink.url, sampleReport(), { timeoutMs: 200 }), (error) =>
        assertNotifyError(error, 'WEBHOOK_TIMEOUT', /no answer within 200 ms$/),
      )
      assert.equal(sink.requests.length, 1, 'the request did arrive')
    } finally {
      await sink.close()
    }
  })

  it("the caller's abort rejects with its reason", { timeout: 10_000 }, async () => {
    const sink = await startHttpSink('hang')
    try {
      const controller = new AbortController()
      const sending = sendWebhook(sink.url, sampleReport(), { signal: controller.signal })
      controller.abort(new Error('server stopping'))
      await assert.rejects(sending, /server stopping/)
    } finally {
      await sink.close()
    }
  })

  it('refuses URLs that are not http(s) and reports network errors', { timeout: 10_000 }, async () => {
    await assert.rejects(sendWebhook('file:///etc/passwd', sampleReport()), (error) =>
      assertNotifyError(error, 'WEBHOOK_URL_INVALID', /file: is not http: or https:/),
    )
    await assert.rejects(sendWebhook('not a url', sampleReport()), (error) =>
      assertNotifyError(error, 'WEBHOOK_URL_INVALID', /not a URL/),
    )
    const sink = await startHttpSink()
    const closedUrl = sink.url
    await sink.close()
    await assert.rejects(sendWebhook(closedUrl, sampleReport()), (error) =>
      assertNotifyError(error, 'WEBHOOK_FAILED', /ECONNREFUSED/),
    )
  })
})
