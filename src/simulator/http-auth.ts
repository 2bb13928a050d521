import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimulatorContext } from './context.ts'
import { formatXapiDateTime } from './types.ts'
import { XapiFault } from './xapi-fault.ts'

/** Who an HTTP handler runs for: the session, the caller's task (if `task_id` named a live one), and cleanup. */
export interface HttpCaller {
  readonly session: string
  readonly task: string | undefined
  /** Ends a session opened from Basic credentials (XAPI logs out around such requests, xapi.md §3). */
  readonly release: () => void
}

function cookieParam(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

function basicCredentials(request: IncomingMessage): [string, string] | undefined {
  const match = /^Basic (.+)$/i.exec(request.headers.authorization ?? '')
  if (match?.[1] === undefined) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)]
}

/**
 * Authenticates an HTTP handler request like `xapi_http.ml` (xapi.md §3, §8.5 #2): `session_id`
 * from the query or a cookie, else HTTP Basic credentials. On failure it answers 401 with
 * `WWW-Authenticate: Basic realm="xapi"`, fails the `task_id` task (if any) with
 * SESSION_AUTHENTICATION_FAILED, and returns undefined.
 */
export function authenticateHttpRequest(
  ctx: SimulatorContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): HttpCaller | undefined {
  const param = (name: string): string | undefined => url.searchParams.get(name) ?? cookieParam(request, name)
  const taskParam = param('task_id')
  const task = taskParam !== undefined && ctx.db.find('task', taskParam) !== undefined ? taskParam : undefined
  const session = param('session_id')
  if (session !== undefined && ctx.db.find('session', session) !== undefined) {
    return { session, task, release: () => undefined }
  }
  const credentials = session === undefined ? basicCredentials(request) : undefined
  if (credentials !== undefined && credentials[0] === ctx.username && credentials[1] === ctx.password) {
    const basicSession = ctx.db.create('session', {
      auth_user_name: credentials[0],
      last_active: formatXapiDateTime(ctx.clock.now()),
    })
    const release = (): void => {
      ctx.db.destroy('session', basicSession)
    }
    return { session: basicSession, task, release }
  }
  if (task !== undefined && ctx.db.get('task', task).status === 'pending') {
    ctx.tasks.fail(
      task,
      new XapiFault('SESSION_AUTHENTICATION_FAILED', [credentials?.[0] ?? '', 'Authentication failure']),
    )
  }
  response
    .writeHead(401, { 'WWW-Authenticate': 'Basic realm="xapi"', 'Content-Length': '0', Connection: 'close' })
    .end()
  return undefined
}
