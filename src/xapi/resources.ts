import type { Agent, IncomingMessage } from 'node:http'
import { PassThrough, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BackupError } from '../shared/errors.ts'
import type { XapiRef } from './record-types.ts'
import type {
  CallOptions,
  PutResourceOptions,
  ResourceOptions,
  ResourceQuery,
  XapiDownload,
  XapiValue,
} from './types.ts'
import { UNKNOWN_LENGTH_BYTES } from './types.ts'
import { openRequest } from './http-request.ts'
import type { OpenRequest } from './http-request.ts'
import { XapiError, XapiHttpError } from './xapi-error.ts'
import { expectString, normalizeRecord } from './records.ts'

/** What the HTTP handler helpers need from the client. */
export type ResourceDeps = {
  baseUrl(): URL
  agent(): Agent
  withSession<T>(fn: (session: string) => Promise<T>, options?: CallOptions): Promise<T>
  call(method: string, args: readonly XapiValue[], options?: CallOptions): Promise<XapiValue>
  waitTask(taskRef: XapiRef, what: string, options: CallOptions): Promise<XapiValue>
  /** Time without socket activity after which a transfer fails with a timeout. */
  readonly idleTimeoutMs: number
}

function resourceUrl(
  deps: ResourceDeps,
  path: string,
  query: ResourceQuery,
  session: string,
  taskRef: XapiRef,
): URL {
  const url = new URL(path, deps.baseUrl())
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, String(value))
  url.searchParams.set('session_id', session)
  url.searchParams.set('task_id', taskRef)
  return url
}

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300
}

async function readExcerpt(response: IncomingMessage): Promise<string> {
  let text = ''
  try {
    for await (const chunk of response) {
      if (text.length < 300) text += (chunk as Buffer).toString('utf8')
    }
  } catch {
    // The excerpt only decorates the error; a cut-off body is fine.
  }
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300)
}

/** The XapiError of the task if it failed (the real reason of an HTTP error, xapi.md §3), else undefined. */
async function taskFailure(deps: ResourceDeps, taskRef: XapiRef): Promise<XapiError | undefined> {
  try {
    const task = normalizeRecord('task', await deps.call('task.get_record', [taskRef]), 'task.get_record')
    if (task.status !== 'failure' && task.status !== 'cancelled') return undefined
    const [code, ...params] = task.error_info
    return new XapiError(code ?? 'UNKNOWN', params, `task of ${task.name_label}`)
  } catch {
    return undefined
  }
}

/** How long an upload that broke off waits for its task to say how it ended (see settleTask). */
export const TASK_SETTLE_MS = 60_000

/**
 * The outcome of a handler's task after its upload broke off (EPIPE, reset) with no answer or a
 * 2xx one: XAPI reads an upload up to the data's own end (tar end, VHD footer), answers and
 * closes, so the last bytes of a body may meet a closed socket although the import succeeded;
 * and it may close before it marks a failed task (SR full, VDI in use), whose error says more than
 * the socket's. Waits up to TASK_SETTLE_MS; undefined when the task has not ended by then.
 */
async function settleTask(
  deps: ResourceDeps,
  what: string,
  taskRef: XapiRef,
): Promise<{ readonly result: XapiValue } | { readonly error: XapiError } | undefined> {
  try {
    return { result: await deps.waitTask(taskRef, what, { signal: AbortSignal.timeout(TASK_SETTLE_MS) }) }
  } catch (error) {
    return error instanceof XapiError ? { error } : undefined
  }
}

/** `body` as an iterable that records its own errors (not those thrown in at a yield: the socket's). */
function tracked(
  body: Readable | AsyncIterable<Uint8Array>,
  failure: { error?: { readonly error: unknown } },
): AsyncGenerator<Uint8Array> {
  return (async function* () {
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>
        try {
          next = await iterator.next()
        } catch (error) {
          failure.error = { error }
          throw error
        }
        if (next.done === true) return
        yield next.value
      }
    } finally {
      await iterator.return?.()
    }
  })()
}

async function httpFailure(
  deps: ResourceDeps,
  what: string,
  taskRef: XapiRef,
  response: IncomingMessage,
): Promise<Error> {
  const excerpt = await readExcerpt(response)
  return (await taskFailure(deps, taskRef)) ?? new XapiHttpError(what, response.statusCode ?? 0, excerpt)
}

async function withTask<T>(
  deps: ResourceDeps,
  what: string,
  options: ResourceOptions,
  fn: (taskRef: XapiRef, own: boolean) => Promise<T>,
): Promise<T> {
  if (options.taskRef !== undefined) return fn(options.taskRef, false)
  const taskRef = expectString(await deps.call('task.create', [`xapi-backup ${what}`, '']), 'task.create')
  try {
    return await fn(taskRef, true)
  } catch (error) {
    await deps.call('task.destroy', [taskRef]).catch(() => undefined)
    throw error
  }
}

async function openDownload(
  deps: ResourceDeps,
  what: string,
  url: URL,
  signal: AbortSignal | undefined,
): Promise<{ open: OpenRequest; response: IncomingMessage }> {
  let target = url
  // One redirect: a master sends 302 to the host that sees the SR (xapi.md §3).
  for (let hop = 0; ; hop++) {
    const open = openRequest({
      url: target,
      method: 'GET',
      headers: {},
      agent: deps.agent(),
      what,
      signal,
      timeoutMs: deps.idleTimeoutMs,
      timeoutKind: 'idle',
    })
    open.request.end()
    const response = await open.response
    const location = response.headers.location
    if (response.statusCode !== 302 || location === undefined || hop > 0) return { open, response }
    response.resume()
    target = new URL(location, target)
  }
}

/** The body as a stream whose errors are typed: the abort reason, or XapiTransportError (timeout, cut connection). */
function typedBody(open: OpenRequest, response: IncomingMessage): Readable {
  const body = new PassThrough()
  response.on('error', (error) => body.destroy(open.mapError(error)))
  // A close-delimited body cut by a timeout or an abort may end without 'error': report it.
  response.on('close', () => {
    if (!response.complete && !body.destroyed)
      body.destroy(open.mapError(new Error('connection closed early')))
  })
  body.on('close', () => {
    if (!response.complete) open.request.destroy()
  })
  return response.pipe(body)
}

/**
 * GETs an HTTP handler with `session_id` and `task_id` added; resolves once the answer's headers
 * say 2xx with the body as a stream read with backpressure until the server closes it (xapi.md §3).
 * A non-2xx answer throws the task's XapiError when it failed, else XapiHttpError; 401 re-logs in once.
 */
export async function getResource(
  deps: ResourceDeps,
  path: string,
  query: ResourceQuery,
  options: ResourceOptions,
): Promise<XapiDownload> {
  const what = `GET ${path}`
  return withTask(deps, what, options, async (taskRef, own) => {
    const response = await deps.withSession(async (session) => {
      const { open, response } = await openDownload(
        deps,
        what,
        resourceUrl(deps, path, query, session, taskRef),
        options.signal,
      )
      if (response.statusCode === 401) {
        response.resume()
        throw new XapiError('SESSION_INVALID', [session], what)
      }
      if (!isSuccess(response.statusCode)) throw await httpFailure(deps, what, taskRef, response)
      return typedBody(open, response)
    })
    const result = async (resultOptions: CallOptions = {}): Promise<XapiValue> => {
      try {
        return await deps.waitTask(taskRef, what, resultOptions)
      } finally {
        if (own) await deps.call('task.destroy', [taskRef]).catch(() => undefined)
      }
    }
    return { body: response, taskRef, result }
  })
}

function checkLength(lengthBytes: number): void {
  if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 0) {
    throw new BackupError(
      'XAPI_BAD_ARGUMENT',
      `putResource lengthBytes: expected a byte count >= 0, got ${lengthBytes}`,
    )
  }
}

/**
 * PUTs `body` to an HTTP handler with `Content-Length: lengthBytes` (XAPI refuses chunked uploads),
 * streaming with backpressure, then waits for the handler's task and returns its decoded result.
 * With UNKNOWN_LENGTH_BYTES the connection is closed once the body is written (xapi.md §1.8 item 6).
 */
export async function putResource(
  deps: ResourceDeps,
  path: string,
  query: ResourceQuery,
  body: Readable | AsyncIterable<Uint8Array>,
  options: PutResourceOptions,
): Promise<XapiValue> {
  checkLength(options.lengthBytes)
  const what = `PUT ${path}`
  return withTask(deps, what, options, async (taskRef, own) => {
    const session = await deps.withSession(async (s) => Promise.resolve(s))
    const url = resourceUrl(deps, path, query, session, taskRef)
    const headers = { 'content-length': options.lengthBytes, 'content-type': 'application/octet-stream' }
    const open = openRequest({
      url,
      method: 'PUT',
      headers,
      agent: deps.agent(),
      what,
      signal: options.signal,
      timeoutMs: deps.idleTimeoutMs,
      timeoutKind: 'idle',
    })
    let response: IncomingMessage | undefined
    open.response.then(
      (r) => (response = r),
      () => undefined,
    )
    const source: { error?: { readonly error: unknown } } = {}
    try {
      await pipeline(Readable.from(tracked(body, source)), open.request)
      // Unknown length: half-closing is how the server learns the body ended (xapi.md §1.8 item 6).
      // `end()` queues the FIN after the data already written; `destroy()` would drop that data.
      if (options.lengthBytes === UNKNOWN_LENGTH_BYTES) open.request.socket?.end()
      else response ??= await open.response
    } catch (error) {
      if (options.signal?.aborted === true) throw options.signal.reason
      // The body's own failure (a cut export, a truncated file) is the cause, whatever XAPI says.
      if (source.error !== undefined) throw source.error.error
      if (response !== undefined && !isSuccess(response.statusCode))
        throw await httpFailure(deps, what, taskRef, response)
      const settled = await settleTask(deps, what, taskRef)
      if (own) await deps.call('task.destroy', [taskRef]).catch(() => undefined)
      if (settled !== undefined && 'result' in settled) return settled.result
      throw settled?.error ?? (response === undefined ? open.mapError(error) : error)
    }
    if (response !== undefined && !isSuccess(response.statusCode))
      throw await httpFailure(deps, what, taskRef, response)
    response?.resume()
    try {
      return await deps.waitTask(
        taskRef,
        what,
        options.signal === undefined ? {} : { signal: options.signal },
      )
    } finally {
      if (own) await deps.call('task.destroy', [taskRef]).catch(() => undefined)
    }
  })
}
