import type { RunningSimulator } from '../index.ts'

/** A raw HTTP answer: status, headers and body text, for wire-shape assertions. */
export interface RawResponse {
  readonly status: number
  readonly contentType: string | null
  readonly headers: Headers
  readonly body: string
}

/** POSTs `body` to `path` of the simulator and returns the raw answer. */
export async function postRaw(sim: RunningSimulator, path: string, body: string): Promise<RawResponse> {
  const response = await fetch(`${sim.url}${path}`, { method: 'POST', body })
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    headers: response.headers,
    body: await response.text(),
  }
}

/** An XML-RPC `<methodCall>` with string params (XAPI accepts untyped `<value>` strings). */
export function xmlCall(method: string, ...params: readonly string[]): string {
  const encoded = params.map((p) => `<param><value>${p}</value></param>`).join('')
  return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${encoded}</params></methodCall>`
}

/** A JSON-RPC client for tests: `call` returns `result` or throws `{code, params}` taken from the v2 error object. */
export interface JsonRpcTestClient {
  readonly session: string
  call(method: string, ...params: readonly unknown[]): Promise<unknown>
  /** Resolves to the error `[message, ...data]` of a call expected to fail (rejects if it succeeds). */
  fail(method: string, ...params: readonly unknown[]): Promise<string[]>
}

/** Logs in over JSON-RPC 2.0 and returns a small client for behaviour tests. */
export async function jsonRpcLogin(sim: RunningSimulator): Promise<JsonRpcTestClient> {
  let id = 0
  const send = async (method: string, params: readonly unknown[]) => {
    const raw = await postRaw(sim, '/jsonrpc', JSON.stringify({ jsonrpc: '2.0', method, params, id: id++ }))
    return JSON.parse(raw.body) as { result?: unknown; error?: { message: string; data: string[] } }
  }
  const login = await send('session.login_with_password', [sim.username, sim.password])
  const session = login.result as string
  return {
    session,
    async call(method, ...params) {
      const answer = await send(method, [session, ...params])
      if (answer.error !== undefined) {
        throw new Error(`${method} failed: ${[answer.error.message, ...answer.error.data].join(' ')}`)
      }
      return answer.result
    },
    async fail(method, ...params) {
      const answer = await send(method, [session, ...params])
      if (answer.error === undefined) throw new Error(`${method} succeeded, expected a failure`)
      return [answer.error.message, ...answer.error.data]
    },
  }
}

/** Polls `task.get_record` until the task leaves pending/cancelling (no timing involved: it yields between polls). */
export async function waitTask(client: JsonRpcTestClient, task: string): Promise<Record<string, unknown>> {
  for (;;) {
    const record = (await client.call('task.get_record', task)) as Record<string, unknown>
    if (record.status !== 'pending' && record.status !== 'cancelling') return record
    await new Promise((resolve) => setImmediate(resolve))
  }
}
