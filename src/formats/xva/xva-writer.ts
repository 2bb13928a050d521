import type { BlockSource } from '../block-source.ts'
import type { ChunkChecksum } from './chunk-checksum.ts'
import { CHECKSUM_SUFFIX, chunkChecksum } from './chunk-checksum.ts'
import { XVA_CHUNK_BYTES, xvaChunks } from './chunking.ts'
import type { OvaDocument } from './ova-xml.ts'
import { encodeOvaXml } from './ova-xml.ts'
import { encodeTarHeader, TAR_BLOCK, tarPadding } from './tar-header.ts'

/** A disk to stream into an XVA: its local id in ova.xml (`Ref:<n>`) and its content. */
export interface XvaDiskInput {
  readonly id: string
  readonly source: BlockSource
}

/** Options of writeXva. */
export interface XvaWriteOptions {
  /** Inline checksum kind (default `xxhash`, as current XAPI writes). */
  readonly checksum?: ChunkChecksum
  /** mtime of `ova.xml` (XAPI writes the export time; chunks get 0). */
  readonly mtimeSeconds?: number
}

function entry(name: string, data: Uint8Array, mtimeSeconds = 0): Uint8Array[] {
  const padding = tarPadding(data.byteLength)
  return [
    encodeTarHeader(name, data.byteLength, mtimeSeconds),
    data,
    ...(padding > 0 ? [new Uint8Array(padding)] : []),
  ]
}

/**
 * Streams an XVA (uncompressed tar, xapi.md §4): `ova.xml` first, then each disk in XAPI's order
 * (ids compared as strings) as 1 MiB chunks `Ref:<n>/<8 digits>`, each followed by its checksum
 * entry; all-zero chunks are skipped except the first and the last; two zero blocks end it.
 * Memory: one chunk at a time. Disk ids must appear among the ova.xml objects of class VDI.
 */
export async function* writeXva(
  ova: OvaDocument,
  disks: readonly XvaDiskInput[],
  options: XvaWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const { checksum = 'xxhash', mtimeSeconds = 0 } = options
  const vdiIds = new Set(ova.objects.filter((o) => o.class === 'VDI').map((o) => o.id))
  for (const disk of disks) {
    if (!vdiIds.has(disk.id)) throw new RangeError(`disk ${disk.id} is not a VDI object of ova.xml`)
    if (!/^Ref:[^/]+$/.test(disk.id)) throw new RangeError(`disk id must look like Ref:<n>, got ${disk.id}`)
  }
  yield* entry('ova.xml', Buffer.from(encodeOvaXml(ova), 'utf8'), mtimeSeconds)
  // XAPI's importer walks VDIs sorted by id string (`Ref:10` < `Ref:2`), so the writer must too.
  const ordered = [...disks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (const { id, source } of ordered) {
    for await (const chunk of xvaChunks(source)) {
      const name = `${id}/${String(chunk.index).padStart(8, '0')}`
      yield* entry(name, chunk.data)
      yield* entry(
        `${name}${CHECKSUM_SUFFIX[checksum]}`,
        Buffer.from(chunkChecksum(checksum, chunk.data), 'ascii'),
      )
    }
  }
  yield new Uint8Array(2 * TAR_BLOCK)
}

/**
 * An upper bound of an XVA's size for quota checks: ova.xml budget plus every chunk of every disk
 * with its headers and checksum entry (the same rule as XO's estimate, xapi.md §4).
 */
export function estimateXvaSizeBytes(virtualSizes: readonly number[]): number {
  const perChunk = XVA_CHUNK_BYTES + 3 * TAR_BLOCK
  return (
    XVA_CHUNK_BYTES +
    virtualSizes.reduce((sum, size) => sum + Math.ceil(size / XVA_CHUNK_BYTES) * perChunk, 0)
  )
}
