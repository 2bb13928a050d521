import { isBitmapFull, isSectorSet } from './bat.ts'
import { DiskType, SECTOR_SIZE } from './constants.ts'

/** A block read from one disk: its sector bitmap and its full `blockSize` data. */
export interface RawBlock {
  readonly bitmap: Uint8Array
  readonly data: Uint8Array
}

/** One level of a chain as block reads see it (a VhdFile). */
export interface BlockLevel {
  readonly diskType: number
  readonly blockSize: number
  hasBlock(index: number): boolean
  readBlock(index: number, scratch?: Uint8Array): Promise<RawBlock>
}

/** A block's merged view: the bytes, and which sectors some level defined (`complete` = all of them). */
export interface MergedBlock {
  readonly data: Uint8Array
  readonly defined: Uint8Array
  readonly complete: boolean
}

/**
 * Reads block `index` through `levels` (child first): a differencing level supplies the sectors its
 * bitmap marks, a dynamic or fixed level supplies every remaining sector (unset bits read as zero,
 * spec "Sector bitmap") and ends the walk. Sectors nobody defined read as zero and stay unset in
 * `defined`. With `scratch` (bitmap + block bytes) the first read goes there and `data` may be a view of it.
 */
export async function readMergedBlock(
  levels: readonly BlockLevel[],
  index: number,
  scratch?: Uint8Array,
): Promise<MergedBlock> {
  const first = levels[0]
  if (first === undefined) throw new RangeError('readMergedBlock needs at least one level')
  const blockSize = first.blockSize
  const sectors = blockSize / SECTOR_SIZE
  let data: Uint8Array | undefined
  const defined = new Uint8Array(sectors)
  let remaining = sectors
  for (const level of levels) {
    const terminal = level.diskType !== DiskType.differencing
    if (!level.hasBlock(index)) {
      if (terminal) break
      continue
    }
    const block = await level.readBlock(index, data === undefined ? scratch : undefined)
    if (data === undefined && (terminal || isBitmapFull(block.bitmap, sectors))) {
      // Fast path: the first level that has the block defines all of it.
      return {
        data: terminal ? maskUnset(block, sectors) : block.data,
        defined: defined.fill(1),
        complete: true,
      }
    }
    data ??= new Uint8Array(blockSize)
    remaining -= copyMissing(block, data, defined, terminal)
    if (terminal || remaining === 0) break
  }
  if (data === undefined) data = new Uint8Array(blockSize)
  return { data, defined, complete: remaining === 0 }
}

function maskUnset(block: RawBlock, sectors: number): Uint8Array {
  if (isBitmapFull(block.bitmap, sectors)) return block.data
  const data = block.data
  for (let s = 0; s < sectors; s++) {
    if (!isSectorSet(block.bitmap, s)) data.fill(0, s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE)
  }
  return data
}

function copyMissing(block: RawBlock, data: Uint8Array, defined: Uint8Array, terminal: boolean): number {
  let copied = 0
  for (let s = 0; s < defined.length; s++) {
    if (defined[s] === 1) continue
    if (isSectorSet(block.bitmap, s)) {
      data.set(block.data.subarray(s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE), s * SECTOR_SIZE)
    } else if (!terminal) continue
    defined[s] = 1
    copied++
  }
  return copied
}

/** Reads `length` bytes at `offset` of a disk through a block reader, zero past `virtualSize`-aligned holes. */
export async function readRange(
  blockSize: number,
  readBlock: (index: number) => Promise<Uint8Array | undefined>,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const position = offset + done
    const index = Math.floor(position / blockSize)
    const within = position - index * blockSize
    const count = Math.min(blockSize - within, length - done)
    const block = await readBlock(index)
    if (block !== undefined) out.set(block.subarray(within, within + count), done)
    done += count
  }
  return out
}
