import http from 'node:http'
import https from 'node:https'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { XapiProtocolError, XapiTransportError } from './xapi-error.ts'

/** One HTTP request to a XAPI host: `what` names it in errors (a method name or `GET /path`, never a URL with secrets). */
export type HttpRequestSpec = {
  readonly url: URL
  readonly method: 'GET' | 'POST' | 'PUT'
  readonly headers: Readonly<Record<string, string | number>>
  readonly agent: http.Agent
  readonly what: string
  readonly signal?: AbortSignal | undefined
  /** Time allowed for the whole exchange (`total`, RPCs) or without any socket activity (`idle`, streams). */
  readonly timeoutMs: number
  readonly timeoutKind?: 'total' | 'idle'
}

// Errors raised before any byte of the request could reach the server.
const NOT_DELIVERED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
])

function isTlsError(code: string): boolean {
  return code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_/.test(code)
}

/** Maps a Node socket/HTTP error of `what` to an XapiTransportError. */
export function toTransportError(what: string, error: unknown): XapiTransportError {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && NOT_DELIVERED.has(code))
    return new XapiTransportError(what, 'connect', false, error)
  if (typeof code === 'string' && isTlsError(code)) return new XapiTransportError(what, 'tls', false, error)
  return new XapiTransportError(what, 'connection-lost', true, error)
}

/** A request in flight: write the body to `request`; `response` settles with the answer's headers. */
export type OpenRequest = {
  readonly request: ClientRequest
  readonly response: Promise<IncomingMessage>
  /** Maps a later stream error the same way (abort → the signal's reason, else a transport error). */
  mapError(error: unknown): Error
  /** Stops the `total` timer once the answer is read. */
  clearTimeout(): void
}

/**
 * Starts an HTTP(S) request with a timeout and an abort signal: an abort rejects with the signal's
 * reason, the timeout and socket errors with XapiTransportError.
 */
export function openRequest(spec: HttpRequestSpec): OpenRequest {
  const lib = spec.url.protocol === 'https:' ? https : http
  const request = lib.request(spec.url, { method: spec.method, headers: spec.headers, agent: spec.agent })
  let timedOut = false
  const onTimeout = (): void => {
    timedOut = true
    request.destroy(new Error(`no answer within ${spec.timeoutMs} ms`))
  }
  // A timer and an abort listener instead of request's `signal` option: cheaper per call (bench/xapi.bench.ts).
  const idle = spec.timeoutKind === 'idle'
  const timer = idle ? undefined : setTimeout(onTimeout, spec.timeoutMs)
  // Streams may last hours: for them only a silent socket counts as a timeout.
  if (idle) request.setTimeout(spec.timeoutMs, onTimeout)
  const onAbort = (): void => {
    request.destroy(new Error('aborted'))
  }
  spec.signal?.addEventListener('abort', onAbort, { once: true })
  const cleanup = (): void => {
    clearTimeout(timer)
    spec.signal?.removeEventListener('abort', onAbort)
  }
  const mapError = (error: unknown): Error => {
    if (spec.signal?.aborted === true) {
      const reason: unknown = spec.signal.reason
      return reason instanceof Error ? reason : new Error(String(reason))
    }
    if (timedOut) return new XapiTransportError(spec.what, 'timeout', true, error)
    return error instanceof XapiTransportError ? error : toTransportError(spec.what, error)
  }
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve)
    request.once('error', (error) => {
      cleanup()
      reject(mapError(error))
    })
  })
  response.catch(() => undefined)
  request.once('close', cleanup)
  if (spec.signal?.aborted === true) onAbort()
  return {
    request,
    response,
    mapError,
    clearTimeout: () => {
      clearTimeout(timer)
    },
  }
}

/**
 * Largest RPC answer read (bytes). Far above what XAPI sends (a large pool's `get_all_records` is
 * tens of MiB), low enough that a hostile server cannot make the client buffer and parse without
 * end: the answer is held once as bytes and once as text, and the parse costs a small multiple.
 */
export const MAX_RPC_ANSWER_BYTES = 256 * 1024 * 1024

/** The buffered answer of an RPC request. */
export type BufferedAnswer = { readonly status: number; readonly contentType: string; readonly body: string }

/** Sends `body` and reads the whole answer (RPC calls; the timeout covers the full round trip). */
export async function sendBuffered(spec: HttpRequestSpec, body: string): Promise<BufferedAnswer> {
  const open = openRequest(spec)
  open.request.end(body)
  const res = await open.response
  let tooLarge: XapiProtocolError | undefined
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = []
      let total = 0
      res.on('data', (chunk: Buffer) => {
        total += chunk.length
        if (total > MAX_RPC_ANSWER_BYTES) {
          tooLarge = new XapiProtocolError(
            `${spec.what} answer`,
            `at most ${MAX_RPC_ANSWER_BYTES} bytes`,
            `more (${total} bytes so far)`,
          )
          res.destroy(tooLarge)
          return
        }
        chunks.push(chunk)
      })
      res.once('error', reject)
      res.once('end', () => {
        resolve(Buffer.concat(chunks).toString('utf8'))
      })
      res.once('close', () => {
        if (!res.complete)
          reject(toTransportError(spec.what, new Error('connection closed before the end of the answer')))
      })
    })
    return { status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body }
  } catch (error) {
    // Not a transport error: a retry would only fetch the same oversized answer again.
    if (tooLarge !== undefined) throw tooLarge
    throw open.mapError(error)
  } finally {
    open.clearTimeout()
  }
}
