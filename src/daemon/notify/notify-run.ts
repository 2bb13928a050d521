// Delivery of a finished run's report (issue 12) to every configured target: webhooks and mail.
// Failures are returned, not thrown: a report that cannot be sent must not fail or stall the run.
import { redactText, REDACTED } from '../../shared/redact-text.ts'
import type { NotificationSettings, RunReport } from '../model.ts'
import { reportSubject, reportText } from './format-report.ts'
import { sendMail, smtpLabel } from './mail.ts'
import { describeError, NotifyError } from './notify-error.ts'
import { shouldReport, type ReportWhen } from './report-when.ts'
import { sendWebhook, webhookLabel } from './webhook.ts'

/** A target the report could not reach, with a message free of credentials (log it as a warning). */
export interface NotifyFailure {
  readonly target: string
  readonly message: string
}

/** What notifyRun may be given: an abort signal, timeouts, a fetch (tests, proxies). */
export interface NotifyDeps {
  readonly signal?: AbortSignal
  readonly fetch?: typeof fetch
  readonly webhookTimeoutMs?: number
  readonly mailTimeoutMs?: number
}

/**
 * Sends `report` to every webhook and, when SMTP is set and `recipients` is not empty, by mail, if
 * `reportWhen` asks for it; never throws: resolves with the failures, whose messages hold neither
 * the SMTP password nor webhook URL credentials (recipients without SMTP settings is a failure too).
 */
export async function notifyRun(
  report: RunReport,
  reportWhen: ReportWhen,
  recipients: readonly string[],
  settings: NotificationSettings,
  password: string | undefined,
  deps: NotifyDeps = {},
): Promise<readonly NotifyFailure[]> {
  if (!shouldReport(reportWhen, report.status)) return []
  const deliveries: { target: string; send: () => Promise<void> }[] = settings.webhooks.map(({ url }) => ({
    target: `webhook ${webhookLabel(url)}`,
    send: () => sendWebhook(url, report, webhookOptions(deps)),
  }))
  const smtp = settings.smtp
  if (recipients.length > 0) {
    deliveries.push({
      target: smtp === null ? 'mail' : smtpLabel(smtp),
      send: async () => {
        if (smtp === null) throw new Error('report recipients are set but no SMTP server is configured')
        const message = { to: recipients, subject: reportSubject(report), text: reportText(report) }
        await sendMail(smtp, password, message, mailOptions(deps))
      },
    })
  }
  const outcomes = await Promise.allSettled(deliveries.map((delivery) => delivery.send()))
  const redact = redactor(settings, password)
  const failures: NotifyFailure[] = []
  outcomes.forEach((outcome, i) => {
    const delivery = deliveries[i]
    if (outcome.status === 'rejected' && delivery !== undefined) {
      failures.push({ target: redact(delivery.target), message: redact(messageOf(outcome.reason)) })
    }
  })
  return failures
}

// A NotifyError's message already says its cause.
const messageOf = (error: unknown): string =>
  error instanceof NotifyError ? error.message : describeError(error)

function webhookOptions(deps: NotifyDeps): Parameters<typeof sendWebhook>[2] {
  return {
    ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.webhookTimeoutMs === undefined ? {} : { timeoutMs: deps.webhookTimeoutMs }),
  }
}

function mailOptions(deps: NotifyDeps): Parameters<typeof sendMail>[3] {
  return {
    ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    ...(deps.mailTimeoutMs === undefined ? {} : { timeoutMs: deps.mailTimeoutMs }),
  }
}

/**
 * Removes every secret this delivery knew of from a message: the SMTP password as typed and as
 * AUTH PLAIN/LOGIN put it on the wire (a server may echo it), webhook URLs whole (their path may
 * be the secret) and their passwords, then whatever redactText recognises.
 */
function redactor(settings: NotificationSettings, password: string | undefined): (text: string) => string {
  const secrets: string[] = []
  if (password !== undefined && password !== '') {
    const user = settings.smtp?.username ?? ''
    secrets.push(
      password,
      base64(password),
      base64(`\0${user}\0${password}`),
      base64(`${user}\0${user}\0${password}`),
    )
  }
  for (const { url } of settings.webhooks) {
    if (!URL.canParse(url)) {
      secrets.push(url)
      continue
    }
    const parsed = new URL(url)
    const { password: urlPassword, href, origin } = parsed
    parsed.username = ''
    parsed.password = ''
    // A bare origin is no secret (and is how targets are named); a path or query may be one.
    if (parsed.href !== `${origin}/`) secrets.push(url, href, parsed.href)
    if (urlPassword !== '') secrets.push(urlPassword, decodeURIComponent(urlPassword))
  }
  // Longest first, so a URL is replaced whole before a password inside it.
  const ordered = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
  return (text) => redactText(ordered.reduce((out, secret) => out.split(secret).join(REDACTED), text))
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64')
}
