import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { SimulatorContext } from './context.ts'
import type { Dispatcher, DispatchResult } from './dispatch.ts'
import type { RpcBody } from './rpc-body.ts'
import { readRpcBody } from './rpc-body.ts'
import { recordTypes } from './schema/index.ts'
import { decodeJsonRpcRequest, jsonRpcFailure, jsonRpcSuccess } from './wire/jsonrpc.ts'
import { encodeJsonValue, encodeXmlValue } from './wire/value-codec.ts'
import { escapeXmlText } from './wire/xml.ts'
import { decodeXmlRpcCall, xmlRpcFailure, xmlRpcResponse, xmlRpcSuccess } from './wire/xmlrpc.ts'

/** Serves one HTTP request whose path starts with the prefix it was registered under. */
export type HttpHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  sim: SimulatorContext,
) => void | Promise<void>

/** TLS material for HTTPS (PEM strings). */
export interface TlsMaterial {
  readonly keyPem: string
  readonly certPem: string
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'X-Requested-With',
}

/**
 * The simulator's HTTP(S) server: handlers are chosen by longest path prefix like XAPI's
 * `http_svr.ml` (so `/xmlrpc` falls into `/`), with `POST /` and `/RPC2` (XML-RPC) and
 * `/jsonrpc` (JSON-RPC) built in; the data-plane handlers register themselves later.
 */
export class SimulatorServer {
  private readonly handlers = new Map<string, HttpHandler>()
  private readonly server: Server
  private readonly dispatcher: Dispatcher
  private readonly ctx: SimulatorContext

  constructor(ctx: SimulatorContext, dispatcher: Dispatcher, tls: TlsMaterial | undefined) {
    this.ctx = ctx
    this.dispatcher = dispatcher
    const listener = (request: IncomingMessage, response: ServerResponse): void => {
      void this.route(request, response)
    }
    this.server =
      tls === undefined
        ? createHttpServer(listener)
        : createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, listener)
    this.registerHttpHandler('/', (req, res) => this.serveRpc(req, res, 'xml'))
    this.registerHttpHandler('/RPC2', (req, res) => this.serveRpc(req, res, 'xml'))
    this.registerHttpHandler('/jsonrpc', (req, res) => this.serveRpc(req, res, 'json'))
  }

  /** Adds (or replaces) the handler for paths starting with `prefix`. */
  registerHttpHandler(prefix: string, handler: HttpHandler): void {
    this.handlers.set(prefix, handler)
  }

  /** Starts listening and resolves to the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    return (this.server.address() as AddressInfo).port
  }

  /** Stops accepting connections and closes the open ones. */
  async close(): Promise<void> {
    this.dispatcher.close()
    const closed = new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve()
      }),
    )
    this.server.closeAllConnections()
    await closed
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator')
    let best: string | undefined
    for (const prefix of this.handlers.keys()) {
      if (url.pathname.startsWith(prefix) && (best === undefined || prefix.length > best.length))
        best = prefix
    }
    const handler = best === undefined ? undefined : this.handlers.get(best)
    try {
      if (handler === undefined) sendHtmlError(response, 404, 'not found')
      else await handler(request, response, url, this.ctx)
    } catch (error) {
      if (!response.headersSent)
        sendHtmlError(response, 500, error instanceof Error ? error.message : String(error))
      else response.destroy()
    }
  }

  private async serveRpc(
    request: IncomingMessage,
    response: ServerResponse,
    transport: 'xml' | 'json',
  ): Promise<void> {
    if (request.method === 'OPTIONS') {
      response.writeHead(200, { ...CORS_HEADERS, 'Content-Length': '0' }).end()
      return
    }
    if (request.method !== 'POST') {
      sendHtmlError(response, 404, `${request.method ?? ''} is not served on this path`)
      return
    }
    const read = await readRpcBody(request, (ref) => this.ctx.db.find('session', ref) !== undefined)
    if (read.kind === 'too-large') {
      refuseTooLarge(request, response, read)
      return
    }
    const body = read.text
    if (transport === 'json') {
      const call = decodeJsonRpcRequest(body)
      const result = await this.dispatcher.dispatch(call)
      if (result.kind === 'drop') {
        request.socket.destroy()
        return
      }
      const text =
        result.kind === 'fault'
          ? jsonRpcFailure(call, result.code, result.params)
          : jsonRpcSuccess(call, encodeJsonValue(result.value, result.type, recordTypes))
      send(response, 'application/json', text)
      return
    }
    const call = decodeXmlRpcCall(body)
    const result = await this.dispatcher.dispatch(call)
    if (result.kind === 'drop') {
      request.socket.destroy()
      return
    }
    send(response, 'text/xml', encodeXmlResult(call.method, result))
  }
}

function encodeXmlResult(method: string, result: Exclude<DispatchResult, { kind: 'drop' }>): string {
  if (result.kind === 'fault') return xmlRpcFailure(result.code, result.params)
  const encoded = encodeXmlValue(result.value, result.type, recordTypes)
  // system.listMethods is the one call XAPI answers without the Status/Value struct (xapi.md §1.2).
  return method === 'system.listMethods' ? xmlRpcResponse(encoded) : xmlRpcSuccess(encoded)
}

function send(response: ServerResponse, contentType: string, text: string): void {
  const body = Buffer.from(text, 'utf8')
  response
    .writeHead(200, { 'Content-Type': contentType, ...CORS_HEADERS, 'Content-Length': String(body.length) })
    .end(body)
}

/** Answers with XAPI's HTML error page (xapi.md §1.1: malformed RPC bodies give HTTP 500). */
export function sendHtmlError(response: ServerResponse, status: number, detail: string): void {
  const title = status === 500 ? 'HTTP 500 internal server error' : `HTTP ${status}`
  const body = Buffer.from(
    `<html><body><h1>${title}</h1>An unexpected error occurred; please wait a while and try again. If the problem persists, please contact your support representative.<h1> Additional information </h1>${escapeXmlText(detail)}</body></html>`,
  )
  response.writeHead(status, { 'Content-Type': 'text/html', 'Content-Length': String(body.length) }).end(body)
}

// After a 413, bytes of the refused body still read, and dropped, while the client learns it must
// stop: closing a socket with unread bytes resets it, and the client would lose the answer.
// Past them the connection is cut.
const LINGER_BYTES = 64 * 1024 * 1024

/**
 * Answers 413 to a body over its limit (XAPI: Client_requested_size_over_limit) and closes the
 * connection: nothing more of the body is kept, at most LINGER_BYTES more are read and dropped
 * until the client stops sending, then the connection is closed.
 */
function refuseTooLarge(
  request: IncomingMessage,
  response: ServerResponse,
  read: Extract<RpcBody, { kind: 'too-large' }>,
): void {
  const body = Buffer.from(
    `<html><body><h1>HTTP 413 request entity too large</h1>The RPC body is larger than ${read.limit} bytes (got ${escapeXmlText(read.got)}).</body></html>`,
  )
  response.shouldKeepAlive = false
  response.writeHead(413, {
    'Content-Type': 'text/html',
    'Content-Length': String(body.length),
    Connection: 'close',
  })
  // The whole answer now; `end` (which closes the connection) once the client stopped sending.
  response.write(body)
  let dropped = 0
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length
    if (dropped > LINGER_BYTES) request.socket.destroy()
  }
  const finish = (): void => {
    request.off('data', onData)
    response.end()
  }
  request.on('data', onData)
  request.once('end', finish)
  request.once('close', finish)
  request.resume()
}
