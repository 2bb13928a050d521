// An HTTP proxy in front of an S3 server (s3rver) that can make uploads fail mid-transfer: once
// armed with a byte budget, it forwards PUT bodies (PutObject, UploadPart) until the budget is
// spent, then cuts the connection in the middle of the body it is forwarding (the server sees an
// aborted request, the client a reset socket); until `heal`, every later PUT body is cut the same
// way at its first byte. Other requests (GET, HEAD, DELETE, POST) pass, so a client can still
// clean up after itself — unless the proxy was armed for an outage: then, from the cut on, every
// connection is reset as soon as a request arrives. Each cut is recorded with how far its body had
// gone.
import { Agent, createServer, request } from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** One request cut by the proxy. */
export interface ProxyCut {
  readonly method: string
  /** The request path (bucket and key, URL-encoded) and query. */
  readonly url: string
  /** The body length the client announced (Content-Length), undefined when it sent none. */
  readonly contentLength: number | undefined
  /** Body bytes forwarded to the server before the cut. */
  readonly forwardedBytes: number
}

/** A running proxy. */
export interface CuttingProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string
  /**
   * Arms the proxy: after `budgetBytes` more bytes of PUT bodies, the PUT being forwarded is cut
   * mid-body, and every later PUT body is cut at once (with `outage`: every later request), until
   * `heal`.
   */
  failPutsAfter(budgetBytes: number, options?: { readonly outage?: boolean }): void
  /** Disarms the proxy: everything passes again. */
  heal(): void
  /** The cuts since the proxy started, in order. */
  readonly cuts: readonly ProxyCut[]
  /** PUT requests whose whole body was forwarded since the last `failPutsAfter`. */
  readonly completedPuts: number
  /** Requests refused during an outage since the last `failPutsAfter`. */
  readonly refused: number
  close(): Promise<void>
}

/** Starts a proxy on 127.0.0.1 (a free port) forwarding every request to `target` (`http://host:port`). */
export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const upstream = new URL(target)
  const agent = new Agent({ keepAlive: true })
  const sockets = new Set<Socket>()
  const cuts: ProxyCut[] = []
  let budget: number | undefined
  let down = false
  let outageArmed = false
  let outage = false
  let completedPuts = 0
  let refused = 0

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    if (outage) {
      refused += 1
      req.socket.destroy()
      return
    }
    const headers: OutgoingHttpHeaders = { ...req.headers }
    // The proxy already answered `100 Continue` to the client (Node's default); the body follows.
    delete headers.expect
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
        answer.on('error', () => res.destroy())
      },
    )
    out.on('error', () => {
      req.socket.destroy()
    })
    const contentLength =
      req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
    const watched = req.method === 'PUT'
    let forwarded = 0
    let cut = false
    req.on('data', (chunk: Buffer) => {
      if (cut) return
      let allowed = chunk.byteLength
      if (watched && down) allowed = 0
      else if (watched && budget !== undefined) allowed = Math.min(allowed, budget)
      if (allowed > 0) {
        if (watched && budget !== undefined) budget -= allowed
        forwarded += allowed
        if (!out.write(chunk.subarray(0, allowed))) {
          req.pause()
          out.once('drain', () => req.resume())
        }
      }
      if (allowed < chunk.byteLength) {
        cut = true
        down = true
        outage = outageArmed
        cuts.push({ method: req.method ?? '', url: req.url ?? '', contentLength, forwardedBytes: forwarded })
        // Both ends at once: the server sees an aborted body, the client a reset connection.
        out.destroy()
        req.socket.destroy()
      }
    })
    req.on('end', () => {
      if (cut) return
      if (watched && req.complete && forwarded > 0) completedPuts += 1
      out.end()
    })
    req.on('error', () => {
      out.destroy()
    })
  }

  const server = createServer(forward)
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address')
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    failPutsAfter(budgetBytes, options = {}) {
      budget = budgetBytes
      down = false
      outageArmed = options.outage === true
      outage = false
      completedPuts = 0
      refused = 0
    },
    heal() {
      budget = undefined
      down = false
      outageArmed = false
      outage = false
    },
    cuts,
    get completedPuts() {
      return completedPuts
    },
    get refused() {
      return refused
    },
    async close() {
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
      for (const socket of sockets) socket.destroy()
      agent.destroy()
      await closed
    },
  }
}
