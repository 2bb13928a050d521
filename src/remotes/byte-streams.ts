import type { Readable } from 'node:stream'
import { RemoteError } from './remote-error.ts'
import type { Remote, ReadOptions, WriteSource } from './remote.ts'

/** The chunks of a write source, as an async iterable of Uint8Array (a Uint8Array is one chunk). */
export async function* sourceChunks(source: WriteSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source
    return
  }
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new RemoteError('IO_ERROR', `write source yielded ${typeof chunk}, expected Uint8Array chunks`)
    }
    yield chunk
  }
}

/**
 * Passes chunks through and fails with SIZE_MISMATCH naming `path` as soon as more than
 * `sizeBytes` arrive, or at the end if fewer did (so a short source never gets published).
 */
export async function* checkedChunks(
  source: AsyncIterable<Uint8Array>,
  path: string,
  sizeBytes: number | undefined,
): AsyncGenerator<Uint8Array> {
  let seen = 0
  const mismatch = (got: string): RemoteError =>
    new RemoteError(
      'SIZE_MISMATCH',
      `write ${JSON.stringify(path)}: expected ${sizeBytes} bytes, got ${got}`,
      {
        details: { path, expectedBytes: sizeBytes ?? null },
      },
    )
  for await (const chunk of source) {
    seen += chunk.byteLength
    if (sizeBytes !== undefined && seen > sizeBytes) throw mismatch(`more (${seen} so far)`)
    yield chunk
  }
  if (sizeBytes !== undefined && seen !== sizeBytes) throw mismatch(String(seen))
}

/** Reads a whole stream into one Buffer (for small files only: memory is the file's size). */
export async function collectStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream as AsyncIterable<Uint8Array>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Reads a whole (small) file of `remote` into a Buffer; range options as in `Remote.read`. */
export async function readAll(remote: Remote, path: string, options?: ReadOptions): Promise<Buffer> {
  return collectStream(await remote.read(path, options))
}

/** Validates a read range against nothing but itself; returns `[start, end?]` as integers. */
export function checkRange(path: string, options: ReadOptions = {}): { start: number; end?: number } {
  const { start = 0, end } = options
  const bad = (reason: string): never => {
    throw new RemoteError('INVALID_RANGE', `read ${JSON.stringify(path)}: ${reason}`, {
      details: { path, start, end: end ?? null },
    })
  }
  if (!Number.isSafeInteger(start) || start < 0) bad(`start must be an integer >= 0, got ${start}`)
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start))
    bad(`end must be an integer >= start (${start}), got ${end}`)
  return end === undefined ? { start } : { start, end }
}

/** Throws INVALID_RANGE when `start` lies beyond a file of `sizeBytes` (start = size is allowed). */
export function checkStartWithin(path: string, start: number, sizeBytes: number): void {
  if (start > sizeBytes) {
    throw new RemoteError(
      'INVALID_RANGE',
      `read ${JSON.stringify(path)}: start ${start} is beyond the size ${sizeBytes}`,
      {
        details: { path, start, sizeBytes },
      },
    )
  }
}

/** Yields bytes `[skip, skip + lengthBytes)` of a stream (all after `skip` when length is undefined). */
export async function* sliceBytes(
  source: AsyncIterable<Uint8Array>,
  skip: number,
  lengthBytes: number | undefined,
): AsyncGenerator<Uint8Array> {
  let offset = 0
  let left = lengthBytes ?? Infinity
  for await (const chunk of source) {
    const from = Math.max(0, skip - offset)
    offset += chunk.byteLength
    if (from >= chunk.byteLength) continue
    const piece = chunk.subarray(from, from + Math.min(left, chunk.byteLength - from))
    left -= piece.byteLength
    if (piece.byteLength > 0) yield piece
    if (left <= 0) return
  }
}
