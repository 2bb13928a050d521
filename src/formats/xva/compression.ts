import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { XvaError } from './xva-error.ts'

/** How an XVA stream is compressed, told by its first bytes (`/import` auto-detects the same way). */
export type XvaCompression = 'none' | 'gzip' | 'zstd'

/** Detects the compression from the first bytes: gzip `1F 8B`, zstd `28 B5 2F FD`, else none. */
export function detectCompression(head: Uint8Array): XvaCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd'
  return 'none'
}

async function* prepend(
  head: readonly Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield* head
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value
}

/**
 * Returns the uncompressed bytes of an XVA stream, whatever its compression (gzip via zlib).
 * zstd is recognised but not decoded yet: it fails with XVA_UNSUPPORTED rather than as a bad tar.
 */
export async function decompressXva(
  source: AsyncIterable<Uint8Array>,
  what = 'XVA stream',
): Promise<{ compression: XvaCompression; bytes: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]()
  const head: Uint8Array[] = []
  let headBytes = 0
  while (headBytes < 4) {
    const next = await iterator.next()
    if (next.done === true) break
    head.push(next.value)
    headBytes += next.value.byteLength
  }
  const first = Buffer.concat(head.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength)))
  const compression = detectCompression(first)
  const bytes = prepend(head, iterator)
  if (compression === 'none') return { compression, bytes }
  if (compression === 'zstd') {
    await iterator.return?.()
    throw new XvaError(
      'XVA_UNSUPPORTED',
      what,
      'an uncompressed or gzip XVA',
      'a zstd-compressed stream (not supported yet)',
    )
  }
  const gunzip = createGunzip()
  // The pipeline's failure (a corrupt gzip stream) surfaces through `gunzip` when it is read.
  pipeline(Readable.from(bytes), gunzip).catch(() => undefined)
  return { compression, bytes: gunzipErrors(gunzip, what) }
}

/** Turns zlib's errors into XVA errors: a cut gzip stream is XVA_TRUNCATED, bad data XVA_TAR_INVALID. */
async function* gunzipErrors(gunzip: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  try {
    yield* gunzip
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'Z_BUF_ERROR')
      throw new XvaError('XVA_TRUNCATED', `${what} (gzip)`, 'a complete gzip stream', 'the end of the stream')
    if (typeof code === 'string' && code.startsWith('Z_'))
      throw new XvaError('XVA_TAR_INVALID', `${what} (gzip)`, 'valid gzip data', code)
    throw error
  }
}
