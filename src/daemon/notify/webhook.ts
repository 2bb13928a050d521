// Run reports to webhooks (issue 12): one JSON POST per finished run. Webhook URLs often carry
// their secret in the path (Slack, Mattermost, Discord), so errors name the origin only.
import type { RunReport } from '../model.ts'
import { reportSummary } from './format-report.ts'
import { describeError, NotifyError } from './notify-error.ts'

/** How long a webhook may take to answer by default. */
export const WEBHOOK_TIMEOUT_MS = 10_000

/** Options of sendWebhook; `fetch` is for tests and proxies (default: the global fetch). */
export interface WebhookOptions {
  readonly signal?: AbortSignal
  readonly timeoutMs?: number
  readonly fetch?: typeof fetch
}

/** An http(s) webhook URL split into what fetch accepts (no userinfo) and Basic credentials. */
interface WebhookTarget {
  readonly endpoint: URL
  readonly authorization: string | undefined
  /** The origin, for messages. */
  readonly label: string
}

/** The origin of a webhook URL, for logs (the rest may be a secret); `invalid URL` when unparsable. */
export function webhookLabel(url: string): string {
  return URL.canParse(url) ? new URL(url).origin : 'invalid URL'
}

function parseTarget(url: string): WebhookTarget {
  const endpoint = URL.canParse(url) ? new URL(url) : undefined
  if (endpoint === undefined || (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')) {
    const what = endpoint === undefined ? 'not a URL' : `${endpoint.protocol} is not http: or https:`
    throw new NotifyError('WEBHOOK_URL_INVALID', `webhook: ${what}`)
  }
  let authorization: string | undefined
  // fetch refuses URLs with credentials: send them as Basic authentication instead.
  if (endpoint.username !== '' || endpoint.password !== '') {
    const user = decodeURIComponent(endpoint.username)
    const pass = decodeURIComponent(endpoint.password)
    authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
    endpoint.username = ''
    endpoint.password = ''
  }
  return { endpoint, authorization, label: endpoint.origin }
}

/** The JSON body: the report as is, plus `text`, the one-line summary chat webhooks display. */
export function webhookBody(report: RunReport): RunReport & { readonly text: string } {
  return { ...report, text: reportSummary(report) }
}

/**
 * POSTs the report as JSON to an http(s) URL; resolves on a 2xx answer, else throws a NotifyError
 * (status, redirect — never followed —, timeout after `timeoutMs`, network); an abort of `signal`
 * rejects with its reason.
 */
export async function sendWebhook(
  url: string,
  report: RunReport,
  options: WebhookOptions = {},
): Promise<void> {
  const target = parseTarget(url)
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'xapi-backup' }
  if (target.authorization !== undefined) headers.authorization = target.authorization
  const doFetch = options.fetch ?? fetch
  let response: Response
  try {
    response = await doFetch(target.endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify(webhookBody(report)),
      redirect: 'manual',
      signal,
    })
    // The answer's body is not used; cancelling frees the connection.
    await response.body?.cancel().catch(() => undefined)
  } catch (error) {
    if (options.signal?.aborted === true) throw options.signal.reason
    if (timeout.aborted) {
      throw new NotifyError('WEBHOOK_TIMEOUT', `webhook ${target.label}: no answer within ${timeoutMs} ms`)
    }
    throw new NotifyError('WEBHOOK_FAILED', `webhook ${target.label}: ${describeError(error)}`, {
      cause: error,
    })
  }
  const status = response.status
  if (response.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
    throw new NotifyError(
      'WEBHOOK_REDIRECT',
      `webhook ${target.label}: answered HTTP ${status} (a redirect); redirects are not followed, give the final URL`,
      { details: { status } },
    )
  }
  if (status < 200 || status >= 300) {
    const text = response.statusText === '' ? '' : ` ${response.statusText}`
    throw new NotifyError('WEBHOOK_HTTP_STATUS', `webhook ${target.label}: answered HTTP ${status}${text}`, {
      details: { status },
    })
  }
}
