import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Transform } from 'node:stream'
import { createGunzip, createGzip } from 'node:zlib'
import { CompressStream, DecompressStream } from 'zstd-napi'
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
  rest: AsyncIterator<Uint8Array> | Iterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield* head
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value
}

/**
 * Returns the uncompressed bytes of an XVA stream, whatever its compression (gzip via zlib, zstd
 * via zstd-napi), as `/import` does: compression is told by the first bytes, not by a flag.
 */
export async function decompressXva(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  what = 'XVA stream',
): Promise<{ compression: XvaCompression; bytes: AsyncIterable<Uint8Array> }> {
  const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
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
  const decoder: Transform = compression === 'gzip' ? createGunzip() : new DecompressStream()
  // The pipeline's failure (corrupt input) surfaces through the decoder when it is read.
  pipeline(Readable.from(bytes), decoder).catch(() => undefined)
  return { compression, bytes: decoderErrors(decoder, compression, what) }
}

/**
 * Compresses a byte stream as `/export?use_compression=true|zstd` does (the whole tar): gzip
 * level 1 (zlib is slow on these machines, tooling.md §6) or zstd level 3. Memory: the codecs' windows.
 */
export async function* compressXva(
  source: AsyncIterable<Uint8Array>,
  compression: Exclude<XvaCompression, 'none'>,
): AsyncGenerator<Uint8Array> {
  const encoder: Transform = compression === 'gzip' ? createGzip({ level: 1 }) : new CompressStream()
  const done = pipeline(Readable.from(source), encoder)
  try {
    yield* encoder as AsyncIterable<Uint8Array>
  } finally {
    encoder.destroy()
  }
  await done
}

/** Turns codec errors into XVA errors: a cut stream is XVA_TRUNCATED, bad data XVA_TAR_INVALID. */
async function* decoderErrors(
  decoder: AsyncIterable<Uint8Array>,
  compression: XvaCompression,
  what: string,
): AsyncGenerator<Uint8Array> {
  try {
    yield* decoder
  } catch (error) {
    if (error instanceof XvaError) throw error
    const code = (error as { code?: unknown }).code
    const message = error instanceof Error ? error.message : String(error)
    const cut = code === 'Z_BUF_ERROR' || /unexpected end|truncated|incomplete/i.test(message)
    if (cut) {
      throw new XvaError(
        'XVA_TRUNCATED',
        `${what} (${compression})`,
        `a complete ${compression} stream`,
        'the end of the stream',
      )
    }
    throw new XvaError(
      'XVA_TAR_INVALID',
      `${what} (${compression})`,
      `valid ${compression} data`,
      typeof code === 'string' ? code : message,
    )
  }
}
