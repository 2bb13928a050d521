import type { IncomingMessage } from 'node:http'

/** XAPI's own limit on an RPC body (`Constants.http_limit_max_rpc_size`, 300 KiB; larger → refused). */
export const MAX_RPC_BODY_BYTES = 300 * 1024

/**
 * The limit for a body that names no live session in its first bytes: without a session only
 * `session.login_with_password` and a few getters can run, and their bodies are tiny. Anyone can
 * send such a body, so it must cost little to read and parse (issue: a 64 MiB body of `<a/>`
 * took 4 GiB and 45 s before any authentication).
 */
export const MAX_ANONYMOUS_RPC_BODY_BYTES = 64 * 1024

const SESSION_REF = /OpaqueRef:[0-9a-f-]{36}/g

/** The whole body, or why it was not read to the end. */
export type RpcBody =
  | { readonly kind: 'body'; readonly text: string }
  | { readonly kind: 'too-large'; readonly limit: number; readonly got: string }

/**
 * Reads an RPC body of at most MAX_ANONYMOUS_RPC_BODY_BYTES, or MAX_RPC_BODY_BYTES when its first
 * MAX_ANONYMOUS_RPC_BODY_BYTES name a session for which `isLiveSession` holds. A declared
 * Content-Length over the limit is refused before any byte is read; an undeclared (chunked) body
 * is read only up to the limit. On refusal the request is left paused: the caller answers 413 and
 * closes the connection, never reading the rest.
 */
export async function readRpcBody(
  request: IncomingMessage,
  isLiveSession: (ref: string) => boolean,
): Promise<RpcBody> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN)
  if (declared > MAX_RPC_BODY_BYTES) {
    return { kind: 'too-large', limit: MAX_RPC_BODY_BYTES, got: `Content-Length ${declared}` }
  }
  return new Promise<RpcBody>((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    let limit = MAX_ANONYMOUS_RPC_BODY_BYTES
    const stop = (): void => {
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
      request.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      total += chunk.length
      if (total > MAX_ANONYMOUS_RPC_BODY_BYTES && limit === MAX_ANONYMOUS_RPC_BODY_BYTES) {
        const head = Buffer.concat(chunks).subarray(0, MAX_ANONYMOUS_RPC_BODY_BYTES).toString('latin1')
        if ([...head.matchAll(SESSION_REF)].some(([ref]) => isLiveSession(ref))) limit = MAX_RPC_BODY_BYTES
      }
      if (total > limit) {
        stop()
        request.pause()
        resolve({ kind: 'too-large', limit, got: `more than ${limit} bytes` })
      }
    }
    const onEnd = (): void => {
      stop()
      resolve({ kind: 'body', text: Buffer.concat(chunks).toString('utf8') })
    }
    const onError = (error: Error): void => {
      stop()
      reject(error)
    }
    const onClose = (): void => {
      stop()
      reject(new Error('the client closed the connection before the end of the body'))
    }
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
    request.on('close', onClose)
  })
}
