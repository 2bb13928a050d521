import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { NotificationSettings } from '../model.ts'
import { notifyRun } from './notify-run.ts'
import { startHttpSink } from './testing/http-sink.ts'
import { sampleReport } from './testing/sample-report.ts'
import { startTinySmtpServer } from './testing/tiny-smtp-server.ts'

const PASSWORD = 'Pa55-w0rd'

describe('notifyRun', () => {
  it('reports to every webhook and by mail, returning the failures only', { timeout: 15_000 }, async () => {
    const [ok, broken, smtpServer] = await Promise.all([
      startHttpSink({ status: 200 }),
      startHttpSink({ status: 500 }),
      startTinySmtpServer(),
    ])
    try {
      const settings: NotificationSettings = {
        webhooks: [{ url: `${ok.url}/a` }, { url: `${broken.url}/b` }],
        smtp: { host: '127.0.0.1', port: smtpServer.port, security: 'none', from: 'backup@example.com' },
      }
      const failures = await notifyRun(sampleReport(), 'failure', ['ops@example.com'], settings, undefined)
      assert.deepEqual(failures, [
        {
          target: `webhook ${broken.url}`,
          message: `webhook ${broken.url}: answered HTTP 500 Internal Server Error`,
        },
      ])
      assert.equal(ok.requests.length, 1)
      const [mail] = smtpServer.mails
      assert.ok(mail !== undefined, 'the mail arrived')
      assert.deepEqual(mail.to, ['ops@example.com'])
      assert.match(mail.data, /^Subject: \[xapi-backup\] nightly: failure$/m)
    } finally {
      await Promise.all([ok.close(), broken.close(), smtpServer.close()])
    }
  })

  it('sends nothing when reportWhen says no', { timeout: 15_000 }, async () => {
    const sink = await startHttpSink()
    try {
      const settings: NotificationSettings = { webhooks: [{ url: sink.url }], smtp: null }
      assert.deepEqual(
        await notifyRun(sampleReport({ status: 'success' }), 'failure', ['a@b.c'], settings, undefined),
        [],
      )
      assert.deepEqual(await notifyRun(sampleReport(), 'never', [], settings, undefined), [])
      assert.equal(sink.requests.length, 0)
    } finally {
      await sink.close()
    }
  })

  it('says when recipients are set without an SMTP server; no recipients, no mail', async () => {
    const settings: NotificationSettings = {
      webhooks: [],
      smtp: { host: '127.0.0.1', port: 1, security: 'none', from: 'backup@example.com' },
    }
    assert.deepEqual(
      await notifyRun(sampleReport(), 'always', [], settings, undefined),
      [],
      'no recipients: no mail',
    )
    assert.deepEqual(
      await notifyRun(sampleReport(), 'always', ['a@b.c'], { webhooks: [], smtp: null }, undefined),
      [{ target: 'mail', message: 'report recipients are set but no SMTP server is configured' }],
    )
  })

  it(
    'never shows the SMTP password, even when the server echoes the credentials',
    { timeout: 15_000 },
    async () => {
      const server = await startTinySmtpServer({ rejectAuth: true })
      try {
        const settings: NotificationSettings = {
          webhooks: [],
          smtp: {
            host: '127.0.0.1',
            port: server.port,
            security: 'none',
            username: 'backup',
            from: 'b@example.com',
          },
        }
        const failures = await notifyRun(sampleReport(), 'always', ['a@example.com'], settings, PASSWORD)
        assert.equal(failures.length, 1)
        const text = JSON.stringify(failures)
        assert.match(text, /535 5\.7\.8 authentication failed for \*\*\*\*\*/)
        assert.deepEqual(server.auths, [`\0backup\0${PASSWORD}`], 'the server did get the password')
        for (const secret of [PASSWORD, Buffer.from(`\0backup\0${PASSWORD}`).toString('base64')]) {
          assert.ok(!text.includes(secret), `${secret} must not be in ${text}`)
        }
      } finally {
        await server.close()
      }
    },
  )

  it('never shows webhook URL credentials or paths, and never throws', { timeout: 15_000 }, async () => {
    const url = 'https://user:hunter2@hooks.example.com/services/T000/SECRETPATH?token=abc'
    const settings: NotificationSettings = { webhooks: [{ url }, { url: 'ftp://x' }], smtp: null }
    const failures = await notifyRun(sampleReport(), 'always', [], settings, undefined, {
      // What fetch is given has no credentials; an error may quote either form.
      fetch: () => Promise.reject(new Error(`cannot reach ${url.replace('user:hunter2@', '')} from ${url}`)),
    })
    const [first] = failures
    assert.equal(failures.length, 2)
    assert.equal(first?.target, 'webhook https://hooks.example.com')
    assert.match(
      first.message,
      /^webhook https:\/\/hooks\.example\.com: cannot reach \*\*\*\*\* from \*\*\*\*\*$/,
    )
    assert.deepEqual(failures[1], {
      target: 'webhook ftp://x',
      message: 'webhook: ftp: is not http: or https:',
    })
    const text = JSON.stringify(failures)
    for (const secret of ['hunter2', 'SECRETPATH', 'token=abc'])
      assert.ok(!text.includes(secret), `${secret} in ${text}`)
  })
})
