// VHD files for benchmarks, written with the library's own stream writer (content does not matter
// for throughput, so every block carries the same bytes).
import { randomUUID } from 'node:crypto'
import type { BlockSource } from '../src/formats/block-source.ts'
import { LocalFile, planVhdStream, writeVhdStream } from '../src/formats/vhd/index.ts'
import type { RandomAccessFile } from '../src/formats/vhd/index.ts'

/** Bytes in a MiB. */
export const MiB = 2 ** 20
/** The VHD block size the benchmarks use (the library's default). */
export const BLOCK = 2 * MiB
/** A block of zeros; `writeVhd(…, holes = true)` skips writing it, leaving a file-system hole. */
export const ZERO_BLOCK = new Uint8Array(BLOCK)

/** A block source whose blocks `indexes` all carry `data`. */
export function sameBlocks(virtualSize: number, indexes: readonly number[], data: Uint8Array): BlockSource {
  return {
    virtualSize,
    blockSize: BLOCK,
    blockIndexes: [...indexes],
    async *blocks() {
      for (const index of indexes) yield await Promise.resolve({ index, data })
    },
  }
}

/**
 * Writes a VHD at `path` from `source` (a differencing one when `parent` is given) and fdatasyncs it;
 * with `holes`, ZERO_BLOCK chunks are not written so the data stays a hole. Returns its unique id.
 */
export async function writeVhd(
  path: string,
  source: BlockSource,
  parent?: { uniqueId: string; relativePath: string },
  holes = false,
): Promise<string> {
  const uniqueId = randomUUID()
  const stream = planVhdStream(source, {
    uniqueId,
    timestampMs: 0,
    ...(parent === undefined ? {} : { parent }),
  })
  const file = await LocalFile.open(path, 'create')
  const target: RandomAccessFile = holes
    ? {
        name: path,
        read: (o, l) => file.read(o, l),
        size: () => file.size(),
        write: (o, d) => (d === ZERO_BLOCK ? Promise.resolve() : file.write(o, d)),
      }
    : file
  try {
    await writeVhdStream(stream, target)
    await file.sync()
  } finally {
    await file.close()
  }
  return uniqueId
}
