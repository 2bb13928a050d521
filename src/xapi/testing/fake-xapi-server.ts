// A tiny XAPI-shaped HTTP server for the client's unit tests: it answers with the exact envelopes
// of xapi.md §1.2–1.3 (written here independently of the client's encoder) and records every raw
// request so tests can compare wire shapes.
import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { XapiValue } from '../types.ts'
import { childElements, parseXml, textOf } from '../../shared/xml.ts'
import { decodeXmlRpcValue } from '../xml-rpc.ts'

/** One RPC as the server received it. */
export type FakeCall = {
  readonly transport: 'json-rpc' | 'xml-rpc'
  readonly path: string
  readonly method: string
  readonly params: readonly XapiValue[]
  readonly raw: string
  readonly contentType: string
}

/** Parameter `index` of `call` as text (strings as is, other values as JSON). */
export function param(call: FakeCall, index: number): string {
  const value = call.params[index]
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** Thrown by a handler to answer with a XAPI error `[code, ...params]`. */
export class FakeXapiFailure extends Error {
  readonly description: readonly string[]
  constructor(code: string, ...params: string[]) {
    super(code)
    this.description = [code, ...params]
  }
}

/** Returned by a handler to drop the connection without answering. */
export const DROP = Symbol('drop')

/** Answers an RPC: a value, a thrown FakeXapiFailure, DROP, or a promise of those. */
export type FakeHandler = (call: FakeCall) => XapiValue | typeof DROP | Promise<XapiValue | typeof DROP>

/** Options of startFakeXapi; `http` gets non-RPC requests (HTTP handlers) first. */
export type FakeXapiOptions = {
  readonly handler: FakeHandler
  readonly jsonRpc?: boolean
  readonly host?: string
  readonly port?: number
  readonly http?: (req: IncomingMessage, res: ServerResponse) => void
}

/** A running fake server. */
export type FakeXapi = {
  readonly url: string
  readonly port: number
  readonly calls: FakeCall[]
  close(): Promise<void>
}

/** XAPI's own XML-RPC emission (xapi.md §1.2): untyped strings, ints as digit strings. */
export function xapiXmlValue(value: XapiValue): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  if (typeof value === 'string') return `<value>${esc(value)}</value>`
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`
  if (typeof value === 'number')
    return Number.isInteger(value) ? `<value>${value}</value>` : `<value><double>${value}</double></value>`
  if (Array.isArray(value))
    return `<value><array><data>${(value as XapiValue[]).map(xapiXmlValue).join('')}</data></array></value>`
  const members = Object.entries(value).map(
    ([k, v]) => `<member><name>${esc(k)}</name>${xapiXmlValue(v)}</member>`,
  )
  return `<value><struct>${members.join('')}</struct></value>`
}

function xmlEnvelope(struct: string): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${struct}</param></params></methodResponse>`
}

function parseCall(path: string, raw: string, contentType: string): FakeCall {
  if (path === '/jsonrpc') {
    const body = JSON.parse(raw) as { method: string; params: XapiValue[] }
    return { transport: 'json-rpc', path, method: body.method, params: body.params, raw, contentType }
  }
  const root = parseXml(raw)
  const [name, params] = childElements(root)
  const values =
    params === undefined ? [] : childElements(params).map((p) => decodeXmlRpcValue(childElements(p)[0] ?? p))
  return {
    transport: 'xml-rpc',
    path,
    method: name === undefined ? '' : textOf(name),
    params: values,
    raw,
    contentType,
  }
}

function reply(
  res: ServerResponse,
  call: FakeCall,
  outcome: { value: XapiValue } | { failure: readonly string[] },
  id: unknown,
): void {
  let body: string
  if (call.transport === 'json-rpc') {
    const [code, ...data] = 'failure' in outcome ? outcome.failure : []
    body = JSON.stringify(
      'value' in outcome
        ? { jsonrpc: '2.0', result: outcome.value, id }
        : { jsonrpc: '2.0', error: { code: 1, message: code, data }, id },
    )
  } else if ('value' in outcome) {
    body = xmlEnvelope(
      call.method === 'system.listMethods'
        ? xapiXmlValue(outcome.value)
        : `<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${xapiXmlValue(outcome.value)}</member></struct></value>`,
    )
  } else {
    body = xmlEnvelope(
      `<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>${xapiXmlValue([...outcome.failure])}</member></struct></value>`,
    )
  }
  const type = call.transport === 'json-rpc' ? 'application/json' : 'text/xml'
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body)
}

async function answer(
  options: FakeXapiOptions,
  calls: FakeCall[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const raw = Buffer.concat(chunks).toString('utf8')
  const path = new URL(req.url ?? '/', 'http://x').pathname
  if (path === '/jsonrpc' && options.jsonRpc === false) {
    res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>404 not found</body></html>')
    return
  }
  const call = parseCall(path, raw, req.headers['content-type'] ?? '')
  calls.push(call)
  const id = path === '/jsonrpc' ? (JSON.parse(raw) as { id: unknown }).id : undefined
  try {
    const value = await options.handler(call)
    if (value === DROP) req.socket.destroy()
    else reply(res, call, { value }, id)
  } catch (error) {
    if (!(error instanceof FakeXapiFailure)) throw error
    reply(res, call, { failure: error.description }, id)
  }
}

/** Starts a fake XAPI on `host:port` (default 127.0.0.1, a free port). */
export async function startFakeXapi(options: FakeXapiOptions): Promise<FakeXapi> {
  const calls: FakeCall[] = []
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' && options.http !== undefined) {
      options.http(req, res)
      return
    }
    answer(options, calls, req, res).catch((error: unknown) => {
      res
        .writeHead(500, { 'content-type': 'text/html' })
        .end(`<html><body><h1>HTTP 500 internal server error</h1>${String(error)}</body></html>`)
    })
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host}:${port}`,
    port,
    calls,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve()
        }),
      )
    },
  }
}

/** A handler with sessions: login gives `OpaqueRef:session-<n>`, other calls go to `rest` after a session check. */
export function withSessions(
  rest: FakeHandler,
  options: { readonly password?: string } = {},
): FakeHandler & { sessions: Set<string> } {
  const sessions = new Set<string>()
  let next = 0
  const handler = (call: FakeCall): ReturnType<FakeHandler> => {
    if (call.method === 'session.login_with_password') {
      if (call.params[1] !== (options.password ?? 'secret'))
        throw new FakeXapiFailure('SESSION_AUTHENTICATION_FAILED', param(call, 0), 'bad password')
      const ref = `OpaqueRef:session-${++next}`
      sessions.add(ref)
      return ref
    }
    if (call.method === 'session.logout') {
      sessions.delete(param(call, 0))
      return ''
    }
    if (!sessions.has(param(call, 0))) throw new FakeXapiFailure('SESSION_INVALID', param(call, 0))
    return rest(call)
  }
  return Object.assign(handler, { sessions })
}
