import type { Agent } from 'node:http'
import type { XapiTransportKind, XapiValue } from './types.ts'
import { sendBuffered } from './http-request.ts'
import { XapiError, XapiProtocolError } from './xapi-error.ts'
import { decodeXmlRpcResponse, encodeXmlRpcCall } from './xml-rpc.ts'

/** Per-request options a transport honours. */
export type TransportCallOptions = { readonly signal?: AbortSignal | undefined; readonly timeoutMs: number }

/** Sends one RPC and returns its value or throws XapiError / XapiTransportError / XapiProtocolError. */
export type RpcTransport = {
  readonly kind: XapiTransportKind
  call(method: string, params: readonly XapiValue[], options: TransportCallOptions): Promise<XapiValue>
}

/** Where RPCs go: the host's base URL and the agent carrying keep-alive and TLS settings. */
export type RpcEndpoint = { readonly baseUrl: URL; readonly agent: Agent }

/** The server did not answer `/jsonrpc` with JSON: auto-detection falls back to XML-RPC (xapi.md §1.1). */
export class JsonRpcUnsupportedError extends XapiProtocolError {}

// XAPI's error pages are HTML (xapi.md §1.1): keep their text only.
function excerpt(text: string): string {
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 120)
}

// Deeper than any XAPI value (event.from: struct → events → snapshot → map is 5); code that walks
// the answer recursively must never meet a hostile 20,000-deep array.
const MAX_JSON_DEPTH = 64

/** The deepest nesting of arrays and objects in JSON `text` (strings skipped), scanned without parsing. */
function jsonDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth)
    else if (c === 0x5d || c === 0x7d) depth--
  }
  return deepest
}

function jsonRpcError(error: unknown, method: string): XapiError {
  // v1 puts [CODE, params…] in `error`; v2 an object {code: 1, message: CODE, data: params} (xapi.md §1.3).
  if (Array.isArray(error)) {
    const [code, ...params] = (error as unknown[]).map(String)
    return new XapiError(code ?? 'UNKNOWN', params, method)
  }
  const { message, data } = error as { message?: unknown; data?: unknown }
  const params = Array.isArray(data) ? (data as unknown[]).map(String) : []
  return new XapiError(typeof message === 'string' ? message : 'UNKNOWN', params, method)
}

/** The JSON-RPC 2.0 transport: `POST /jsonrpc` with `Content-Type: application/json` (xapi.md §1.3). */
export function createJsonRpcTransport(endpoint: RpcEndpoint): RpcTransport {
  const url = new URL('/jsonrpc', endpoint.baseUrl)
  let nextId = 0
  return {
    kind: 'json-rpc',
    async call(method, params, options) {
      const id = nextId++
      const body = JSON.stringify({ jsonrpc: '2.0', method, params, id })
      const answer = await sendBuffered(
        {
          url,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          agent: endpoint.agent,
          what: method,
          signal: options.signal,
          timeoutMs: options.timeoutMs,
        },
        body,
      )
      const mediaType = answer.contentType.split(';')[0]?.trim().toLowerCase()
      if (answer.status !== 200 || mediaType !== 'application/json') {
        const got = `HTTP ${answer.status} ${answer.contentType} ${excerpt(answer.body)}`
        throw new JsonRpcUnsupportedError(`${method} over JSON-RPC`, 'HTTP 200 application/json', got)
      }
      let parsed: { result?: XapiValue; error?: unknown; id?: unknown }
      const depth = jsonDepth(answer.body)
      if (depth > MAX_JSON_DEPTH) {
        throw new XapiProtocolError(
          `${method} JSON-RPC answer`,
          `at most ${MAX_JSON_DEPTH} nested arrays and objects`,
          String(depth),
        )
      }
      try {
        parsed = JSON.parse(answer.body) as typeof parsed
      } catch {
        throw new XapiProtocolError(`${method} JSON-RPC answer`, 'JSON', excerpt(answer.body))
      }
      if (parsed.id !== id)
        throw new XapiProtocolError(`${method} JSON-RPC answer`, `id ${id}`, String(parsed.id))
      if (parsed.error !== undefined && parsed.error !== null) throw jsonRpcError(parsed.error, method)
      if (parsed.result === undefined)
        throw new XapiProtocolError(`${method} JSON-RPC answer`, 'result', excerpt(answer.body))
      return parsed.result
    },
  }
}

/** The XML-RPC transport: `POST /` with `Content-Type: text/xml` and the Status/Value envelope (xapi.md §1.2). */
export function createXmlRpcTransport(endpoint: RpcEndpoint): RpcTransport {
  const url = new URL('/', endpoint.baseUrl)
  return {
    kind: 'xml-rpc',
    async call(method, params, options) {
      const body = encodeXmlRpcCall(method, params)
      const answer = await sendBuffered(
        {
          url,
          method: 'POST',
          headers: { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) },
          agent: endpoint.agent,
          what: method,
          signal: options.signal,
          timeoutMs: options.timeoutMs,
        },
        body,
      )
      if (answer.status !== 200) {
        throw new XapiProtocolError(
          `${method} XML-RPC answer`,
          'HTTP 200',
          `HTTP ${answer.status} ${excerpt(answer.body)}`,
        )
      }
      return decodeXmlRpcResponse(answer.body, method)
    },
  }
}

/** A transport that may still have to pick its protocol: `kind` is undefined until it has. */
export type SelectingTransport = {
  readonly kind: XapiTransportKind | undefined
  call(method: string, params: readonly XapiValue[], options: TransportCallOptions): Promise<XapiValue>
}

/**
 * The transport for `mode`: a fixed protocol, or `auto`, which sends the first call over JSON-RPC
 * and switches to XML-RPC for good when `/jsonrpc` does not answer JSON (xapi.md §1.1).
 */
export function createSelectingTransport(
  endpoint: RpcEndpoint,
  mode: XapiTransportKind | 'auto',
): SelectingTransport {
  const create = (kind: XapiTransportKind): RpcTransport =>
    kind === 'json-rpc' ? createJsonRpcTransport(endpoint) : createXmlRpcTransport(endpoint)
  let chosen = mode === 'auto' ? undefined : create(mode)
  return {
    get kind() {
      return chosen?.kind
    },
    async call(method, params, options) {
      if (chosen !== undefined) return chosen.call(method, params, options)
      const json = create('json-rpc')
      try {
        const value = await json.call(method, params, options)
        chosen = json
        return value
      } catch (error) {
        if (!(error instanceof JsonRpcUnsupportedError)) throw error
        // /jsonrpc did not handle the call, so replaying it over XML-RPC cannot run it twice.
        chosen = create('xml-rpc')
        return chosen.call(method, params, options)
      }
    },
  }
}
