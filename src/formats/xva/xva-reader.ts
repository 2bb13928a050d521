import type { DiskBlock } from '../block-source.ts'
import type { ChunkChecksum } from './chunk-checksum.ts'
import { chunkChecksum } from './chunk-checksum.ts'
import { XVA_CHUNK_BYTES } from './chunking.ts'
import type { XvaCompression } from './compression.ts'
import { decompressXva } from './compression.ts'
import type { OvaDocument, OvaObject } from './ova-xml.ts'
import { decodeOvaXml } from './ova-xml.ts'
import type { TarEntry } from './tar-reader.ts'
import { readTarEntries } from './tar-reader.ts'
import { XvaError } from './xva-error.ts'

/** A disk of an XVA being read: forward-only, its chunks must be consumed before the next disk. */
export interface XvaDisk {
  /** Local id in ova.xml (`Ref:<n>`). */
  readonly id: string
  /** The VDI record of ova.xml. */
  readonly vdi: OvaObject
  readonly virtualSize: number
  /** 1 MiB: a block's `index` is its chunk number. Absent chunks are zeros. */
  readonly blockSize: number
  blocks(): AsyncIterable<DiskBlock>
}

/** An opened XVA: its graph, and its disks in stream order. */
export interface XvaReader {
  readonly ova: OvaDocument
  readonly compression: XvaCompression
  disks(): AsyncGenerator<XvaDisk>
  /** Chunks whose checksum mismatched but were accepted because of `force`. */
  readonly forcedChunks: readonly string[]
}

/** Options of openXva. */
export interface XvaReadOptions {
  /** Accept chunks whose inline checksum mismatches (XAPI's `force=true`); they are listed in `forcedChunks`. */
  readonly force?: boolean
  /** Name of the stream in error messages. */
  readonly what?: string
}

const CHUNK = /^(Ref:[^/]+)\/(\d{8})$/
const CHECKSUM = /^(Ref:[^/]+\/\d{8})\.(xxhash|checksum)$/

function virtualSizeOf(vdi: OvaObject, what: string): number {
  const raw = vdi.snapshot.virtual_size
  const size =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(size)) {
    throw new XvaError(
      'XVA_OVA_INVALID',
      `${what}: ova.xml VDI ${vdi.id}, virtual_size`,
      'a non-negative integer',
      JSON.stringify(raw),
    )
  }
  return size
}

/**
 * Opens an XVA stream (uncompressed or gzip): reads `ova.xml`, which must be the first entry, then
 * hands out the disks in stream order. Each chunk is checked: names increasing within a disk,
 * 1 MiB except the last, inside `virtual_size`, followed by a valid `.xxhash` / `.checksum` entry
 * (mismatch → XVA_CHECKSUM_MISMATCH unless `force`). Memory: one chunk.
 */
export async function openXva(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: XvaReadOptions = {},
): Promise<XvaReader> {
  const what = options.what ?? 'XVA stream'
  const { compression, bytes } = await decompressXva(source, what)
  const entries = readTarEntries(bytes, { what })
  let peeked: TarEntry | undefined
  const next = async (): Promise<TarEntry | undefined> => {
    if (peeked !== undefined) {
      const entry = peeked
      peeked = undefined
      return entry
    }
    const result = await entries.next()
    return result.done === true ? undefined : result.value
  }
  const first = await next()
  if (first?.name !== 'ova.xml') {
    throw new XvaError(
      'XVA_UNEXPECTED_ENTRY',
      `${what}: first entry`,
      'ova.xml',
      first === undefined ? 'an empty archive' : JSON.stringify(first.name),
    )
  }
  const ova = decodeOvaXml(Buffer.from(first.data).toString('utf8'))
  const vdis = new Map(ova.objects.filter((o) => o.class === 'VDI').map((o) => [o.id, o]))
  const forcedChunks: string[] = []
  const seen = new Set<string>()

  async function* chunksOf(id: string, virtualSize: number): AsyncGenerator<DiskBlock> {
    let previous = -1
    for (let entry = await next(); entry !== undefined; entry = await next()) {
      const match = CHUNK.exec(entry.name)
      if (match?.[1] !== id) {
        peeked = entry
        return
      }
      const index = Number(match[2])
      const where = `${what}: entry ${entry.name} at ${entry.offset}`
      if (index <= previous)
        throw new XvaError('XVA_UNEXPECTED_ENTRY', where, `a chunk number above ${previous}`, String(index))
      const length = entry.data.byteLength
      const end = index * XVA_CHUNK_BYTES + length
      if (
        length > XVA_CHUNK_BYTES ||
        end > virtualSize ||
        (length !== 0 && length < XVA_CHUNK_BYTES && end !== virtualSize)
      ) {
        throw new XvaError(
          'XVA_UNEXPECTED_ENTRY',
          where,
          `1 MiB chunks within virtual_size ${virtualSize} (last one may be shorter)`,
          `${length} bytes at chunk ${index}`,
        )
      }
      verifyChecksum(entry, await next())
      previous = index
      // Zero-length entries are XAPI's keep-alives while it skips empty chunks: no data.
      if (length > 0) yield { index, data: entry.data }
    }
  }

  function verifyChecksum(chunk: TarEntry, entry: TarEntry | undefined): void {
    const match = entry === undefined ? null : CHECKSUM.exec(entry.name)
    if (entry === undefined || match?.[1] !== chunk.name) {
      throw new XvaError(
        'XVA_UNEXPECTED_ENTRY',
        `${what}: after chunk ${chunk.name}`,
        `${chunk.name}.xxhash or .checksum`,
        entry === undefined ? 'the end of the archive' : JSON.stringify(entry.name),
      )
    }
    const kind: ChunkChecksum = match[2] === 'xxhash' ? 'xxhash' : 'sha1'
    const stored = Buffer.from(entry.data).toString('ascii').trim()
    const computed = chunkChecksum(kind, chunk.data)
    if (stored.toLowerCase() !== computed.toLowerCase()) {
      if (options.force !== true)
        throw new XvaError('XVA_CHECKSUM_MISMATCH', `${what}: ${entry.name}`, computed, stored)
      forcedChunks.push(chunk.name)
    }
  }

  async function* disks(): AsyncGenerator<XvaDisk> {
    for (let entry = await next(); entry !== undefined; entry = await next()) {
      const id = CHUNK.exec(entry.name)?.[1]
      const vdi = id === undefined ? undefined : vdis.get(id)
      if (id === undefined || vdi === undefined || seen.has(id)) {
        const expected =
          id === undefined
            ? 'a disk chunk Ref:<n>/<8 digits>'
            : seen.has(id)
              ? `chunks of ${id} together`
              : `a VDI ${id} in ova.xml`
        throw new XvaError(
          'XVA_UNEXPECTED_ENTRY',
          `${what}: entry at ${entry.offset}`,
          expected,
          JSON.stringify(entry.name),
        )
      }
      seen.add(id)
      peeked = entry
      const virtualSize = virtualSizeOf(vdi, what)
      const chunks = chunksOf(id, virtualSize)
      let started = false
      yield {
        id,
        vdi,
        virtualSize,
        blockSize: XVA_CHUNK_BYTES,
        blocks: () => {
          if (started) throw new RangeError(`the chunks of ${id} can be read once (forward-only stream)`)
          started = true
          // No `return`: a consumer that stops early must not close the shared entry stream.
          return { [Symbol.asyncIterator]: () => ({ next: () => chunks.next() }) }
        },
      }
      // Whatever the consumer left unread is still verified, then skipped.
      for (let rest = await chunks.next(); rest.done !== true; rest = await chunks.next()) continue
    }
  }

  return { ova, compression, disks, forcedChunks }
}
