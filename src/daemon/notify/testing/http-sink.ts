// A loopback HTTP server for webhook tests: records each request and answers as told.
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A request as the server received it. */
export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** How to answer: a status (and headers), or `hang` to never answer. */
export type SinkAnswer = { readonly status: number; readonly headers?: Record<string, string> } | 'hang'

/** A running HTTP sink. */
export interface HttpSink {
  readonly url: string
  readonly requests: ReceivedRequest[]
  close(): Promise<void>
}

/** Starts an HTTP server on 127.0.0.1 answering every request with `answer`. */
export async function startHttpSink(answer: SinkAnswer = { status: 204 }): Promise<HttpSink> {
  const requests: ReceivedRequest[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const { method = '', url = '', headers } = request
      requests.push({ method, url, headers, body: Buffer.concat(chunks).toString() })
      if (answer !== 'hang') response.writeHead(answer.status, answer.headers).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
