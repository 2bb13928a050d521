import type { BlockSource, DiskBlock } from '../block-source.ts'
import { isAllZero, roundUp } from './codec-utils.ts'
import { DEFAULT_BLOCK_SIZE, SECTOR_SIZE } from './constants.ts'
import type { RandomAccessFile, WritableFile } from './random-access-file.ts'
import { pageAlignedBuffer } from './random-access-file.ts'
import { keepBlock, readRawBlock } from './raw-to-vhd.ts'
import type { VhdChain } from './vhd-chain.ts'
import { fail } from './vhd-error.ts'
import type { VhdStream } from './vhd-stream-writer.ts'

export { convertRawToVhd } from './raw-to-vhd.ts'
export type { RawToVhdOptions, RawToVhdResult } from './raw-to-vhd.ts'
export type { WritableFile } from './random-access-file.ts'

/** Options of rawBlockSource. */
export interface RawSourceOptions {
  readonly blockSize?: number
  /** Keep only the blocks whose content differs from this chain's (a delta over it). */
  readonly parent?: VhdChain
}

/**
 * A block source over a raw disk image: a first pass lists the blocks that are not all zero (or,
 * with `parent`, that differ from the parent's content), so the VHD size is known up front; the
 * second pass (`blocks()`) reads them again. The virtual size is the raw size rounded up to a sector.
 * (convertRawToVhd writes a VHD file in one pass; this is for streams, whose size comes first.)
 */
export async function rawBlockSource(
  raw: RandomAccessFile,
  options: RawSourceOptions = {},
): Promise<BlockSource> {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE
  const rawSize = await raw.size()
  const virtualSize = roundUp(rawSize, SECTOR_SIZE)
  const { parent } = options
  const readBlock = async (index: number): Promise<Uint8Array> => {
    const start = index * blockSize
    return raw.read(start, Math.min(blockSize, rawSize - start))
  }
  const blockIndexes: number[] = []
  const scan = pageAlignedBuffer(blockSize)
  const scratch = parent === undefined ? undefined : pageAlignedBuffer(parent.scratchSize)
  for (let index = 0; index * blockSize < virtualSize; index++) {
    const data = await readRawBlock(raw, rawSize, index, scan)
    if (await keepBlock(parent, index, data, scratch)) blockIndexes.push(index)
  }
  return {
    virtualSize,
    blockSize,
    blockIndexes,
    async *blocks(): AsyncGenerator<DiskBlock> {
      for (const index of blockIndexes) {
        const data = await readBlock(index)
        const length = Math.min(blockSize, virtualSize - index * blockSize)
        // A raw size that is not a multiple of 512 leaves a short last sector: pad it with zeros.
        if (data.length === length) yield { index, data }
        else {
          const padded = new Uint8Array(length)
          padded.set(data)
          yield { index, data: padded }
        }
      }
    },
  }
}

/** Options of chainToRaw. */
export interface ChainToRawOptions {
  /**
   * Read every block into one reused buffer: no allocation per block, but each chunk is only valid
   * until the next one is requested (for consumers that write it before asking for more).
   */
  readonly reuseBuffer?: boolean
}

/** The raw bytes of a chain's content, block by block (exactly `virtualSize` bytes, one block in memory). */
export async function* chainToRaw(
  chain: VhdChain,
  options: ChainToRawOptions = {},
): AsyncGenerator<Uint8Array> {
  const { virtualSize, blockSize } = chain
  const zeros = new Uint8Array(blockSize)
  const scratch = options.reuseBuffer === true ? pageAlignedBuffer(chain.scratchSize) : undefined
  for (let index = 0; index * blockSize < virtualSize; index++) {
    const length = Math.min(blockSize, virtualSize - index * blockSize)
    const data = chain.hasBlock(index) ? await chain.readBlock(index, scratch) : zeros
    yield data.subarray(0, length)
  }
}

/** Writes a planned VHD stream into `file` from offset 0 and checks the length matches the plan. */
export async function writeVhdStream(stream: VhdStream, file: RandomAccessFile): Promise<void> {
  if (file.write === undefined) fail('VHD_BAD_ARGUMENT', file.name, 0, 'file', 'a writable file', 'read-only')
  let offset = 0
  for await (const chunk of stream.chunks()) {
    await file.write(offset, chunk)
    offset += chunk.length
  }
  if (offset !== stream.sizeBytes)
    fail('VHD_INVALID', file.name, offset, 'stream length', stream.sizeBytes, offset)
}

/** Options of writeChainToRaw. */
export interface ChainToFileOptions {
  /** Write every chunk, zeros too, and leave the length alone (a device, not a regular file). */
  readonly dense?: boolean
  /** Sync at the end (default true; false only for what cannot be synced, like /dev/null). */
  readonly sync?: boolean
}

/**
 * Writes a chain's content into `out` as a raw image of exactly `virtualSize` bytes and makes it
 * durable: `out` is emptied first, all-zero chunks are not written (they stay holes), then the
 * length is set and the data synced before this resolves.
 */
export async function writeChainToRaw(
  chain: VhdChain,
  out: WritableFile,
  options: ChainToFileOptions = {},
): Promise<number> {
  const dense = options.dense === true
  if (!dense) await out.truncate(0)
  let offset = 0
  for await (const chunk of chainToRaw(chain, { reuseBuffer: true })) {
    if (dense || !isAllZero(chunk)) await out.write(offset, chunk)
    offset += chunk.length
  }
  if (!dense) await out.truncate(offset)
  if (options.sync !== false) await out.sync()
  return offset
}
