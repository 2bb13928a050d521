// Run reports by mail (issue 12) through nodemailer's SMTP transport, one connection per mail
// (reports are rare; a pool would hold a connection open between runs).
import { createTransport } from 'nodemailer'
import type { NotificationSettings } from '../model.ts'
import { describeError, NotifyError } from './notify-error.ts'

/** How long the SMTP server may take at each step (connect, greeting, any answer) by default. */
export const MAIL_TIMEOUT_MS = 30_000

/** The SMTP settings of NotificationSettings. */
export type SmtpSettings = NonNullable<NotificationSettings['smtp']>

/** A plain-text mail. */
export interface MailMessage {
  readonly to: readonly string[]
  readonly subject: string
  readonly text: string
}

/** Options of sendMail. */
export interface MailOptions {
  readonly signal?: AbortSignal
  readonly timeoutMs?: number
}

/** The SMTP target, for messages: `smtp host:port`. */
export function smtpLabel(smtp: SmtpSettings): string {
  return `smtp ${smtp.host}:${smtp.port}`
}

/**
 * Sends a plain-text mail through `smtp` (TLS certificates verified unless allowUnauthorized;
 * AUTH with `username` and `password` when a username is set); throws a NotifyError `MAIL_FAILED`
 * naming the server. An abort of `signal` rejects at once with its reason; the connection then
 * ends by its own timeouts (nodemailer takes no signal).
 */
export async function sendMail(
  smtp: SmtpSettings,
  password: string | undefined,
  message: MailMessage,
  options: MailOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? MAIL_TIMEOUT_MS
  const transport = createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    ...(smtp.username === undefined ? {} : { auth: { user: smtp.username, pass: password ?? '' } }),
    tls: { rejectUnauthorized: smtp.allowUnauthorized !== true },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // The message is built here from plain strings: nothing may make nodemailer read files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  })
  const sending = transport.sendMail({
    from: smtp.from,
    to: [...message.to],
    subject: message.subject,
    text: message.text,
  })
  try {
    await abortable(sending, options.signal)
  } catch (error) {
    if (options.signal?.aborted === true) throw error
    throw new NotifyError('MAIL_FAILED', `${smtpLabel(smtp)}: ${describeError(error)}`, { cause: error })
  } finally {
    transport.close()
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(signal.reason as Error)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  // A send that fails after the abort is of no interest any more.
  void promise.catch(() => undefined)
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
