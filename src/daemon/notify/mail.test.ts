import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sendMail, type SmtpSettings } from './mail.ts'
import { NotifyError } from './notify-error.ts'
import { startTinySmtpServer } from './testing/tiny-smtp-server.ts'

const smtp = (port: number, extra: Partial<SmtpSettings> = {}): SmtpSettings => ({
  host: '127.0.0.1',
  port,
  security: 'none',
  from: 'backup@example.com',
  ...extra,
})

describe('sendMail', () => {
  it('delivers a plain-text mail to every recipient', { timeout: 15_000 }, async () => {
    const server = await startTinySmtpServer()
    try {
      const message = {
        to: ['a@example.com', 'b@example.com'],
        subject: '[xapi-backup] nightly: failure',
        text: 'Status: failure\n',
      }
      await sendMail(smtp(server.port), undefined, message, { timeoutMs: 5000 })
      assert.equal(server.mails.length, 1)
      const [mail] = server.mails
      assert.equal(mail?.from, 'backup@example.com')
      assert.deepEqual(mail.to, ['a@example.com', 'b@example.com'])
      assert.match(mail.data, /^Subject: \[xapi-backup\] nightly: failure$/m)
      assert.match(mail.data, /^To: a@example\.com, b@example\.com$/m)
      assert.match(mail.data, /^Status: failure$/m)
      assert.deepEqual(server.auths, [], 'no AUTH without a username')
    } finally {
      await server.close()
    }
  })

  it('authenticates with AUTH PLAIN when a username is set', { timeout: 15_000 }, async () => {
    const server = await startTinySmtpServer()
    try {
      await sendMail(smtp(server.port, { username: 'backup' }), 's3cret!', {
        to: ['a@example.com'],
        subject: 's',
        text: 't',
      })
      assert.deepEqual(server.auths, ['\0backup\0s3cret!'])
      assert.equal(server.mails.length, 1)
    } finally {
      await server.close()
    }
  })

  it('a rejected login is a MAIL_FAILED error naming the server', { timeout: 15_000 }, async () => {
    const server = await startTinySmtpServer({ rejectAuth: true })
    try {
      await assert.rejects(
        sendMail(smtp(server.port, { username: 'backup' }), 's3cret!', {
          to: ['a@example.com'],
          subject: 's',
          text: 't',
        }),
        (error) => {
          assert.ok(error instanceof NotifyError && error.code === 'MAIL_FAILED', String(error))
          assert.match(error.message, /^smtp 127\.0\.0\.1:\d+: .*535/)
          return true
        },
      )
      assert.equal(server.mails.length, 0)
    } finally {
      await server.close()
    }
  })

  it(
    'starttls refuses a server without STARTTLS before sending the password or the mail',
    { timeout: 15_000 },
    async () => {
      const server = await startTinySmtpServer()
      try {
        const settings = smtp(server.port, { security: 'starttls', username: 'backup' })
        await assert.rejects(
          sendMail(settings, 's3cret!', { to: ['a@example.com'], subject: 's', text: 't' }),
          (error) => {
            assert.ok(error instanceof NotifyError && error.code === 'MAIL_FAILED', String(error))
            return true
          },
        )
        assert.deepEqual(server.auths, [], 'no AUTH in clear text')
        assert.equal(server.mails.length, 0)
      } finally {
        await server.close()
      }
    },
  )

  it('an unreachable server is a MAIL_FAILED error', { timeout: 15_000 }, async () => {
    const server = await startTinySmtpServer()
    const { port } = server
    await server.close()
    await assert.rejects(
      sendMail(smtp(port), undefined, { to: ['a@example.com'], subject: 's', text: 't' }),
      (error) => {
        assert.ok(error instanceof NotifyError && error.code === 'MAIL_FAILED', String(error))
        assert.match(error.message, /ECONNREFUSED/)
        return true
      },
    )
  })
})
