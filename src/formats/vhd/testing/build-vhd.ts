import { bitmapSizeBytes } from '../bat.ts'
import { writeVhdStream } from '../conversions.ts'
import { DEFAULT_BLOCK_SIZE, SECTOR_SIZE } from '../constants.ts'
import type { RandomAccessFile } from '../random-access-file.ts'
import { VhdFile } from '../vhd-file.ts'
import { VhdInPlaceWriter } from '../vhd-in-place-writer.ts'
import type { VhdParentRef } from '../vhd-stream-writer.ts'
import { planVhdStream } from '../vhd-stream-writer.ts'
import type { Extent } from './random-disk.ts'

/** Options of buildVhd. */
export interface BuildVhdOptions {
  readonly virtualSize: number
  readonly uniqueId: string
  readonly blockSize?: number
  readonly parent?: VhdParentRef
  /** The sectors this disk stores; their bytes come from `content` (the disk as its top sees it). */
  readonly extents: readonly Extent[]
  readonly content: Uint8Array
}

/**
 * Builds a dynamic or differencing VHD in `file` whose sector bitmaps mark exactly the sectors of
 * `extents` (our stream writer only writes whole blocks), for chain and merge tests.
 */
export async function buildVhd(file: RandomAccessFile, options: BuildVhdOptions): Promise<VhdFile> {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE
  const empty = planVhdStream(
    { virtualSize: options.virtualSize, blockSize, blockIndexes: [], blocks: async function* () {} },
    {
      uniqueId: options.uniqueId,
      timestampMs: Date.UTC(2026, 0, 1),
      ...(options.parent === undefined ? {} : { parent: options.parent }),
    },
  )
  await writeVhdStream(empty, file)
  const disk = await VhdFile.open(file)
  const writer = await VhdInPlaceWriter.open(disk)
  const blocks = new Map<number, Uint8Array>()
  const sectorsPerBlock = blockSize / SECTOR_SIZE
  for (const extent of options.extents) {
    for (let s = extent.offset / SECTOR_SIZE; s < (extent.offset + extent.length) / SECTOR_SIZE; s++) {
      const index = Math.floor(s / sectorsPerBlock)
      let bitmap = blocks.get(index)
      if (bitmap === undefined) blocks.set(index, (bitmap = new Uint8Array(bitmapSizeBytes(blockSize))))
      const within = s % sectorsPerBlock
      bitmap[within >> 3] = (bitmap[within >> 3] ?? 0) | (0x80 >> (within & 7))
    }
  }
  for (const [index, bitmap] of [...blocks].sort((a, b) => a[0] - b[0])) {
    const data = new Uint8Array(blockSize)
    for (let s = 0; s < sectorsPerBlock; s++) {
      if (((bitmap[s >> 3] ?? 0) & (0x80 >> (s & 7))) === 0) continue
      const from = index * blockSize + s * SECTOR_SIZE
      data.set(options.content.subarray(from, from + SECTOR_SIZE), s * SECTOR_SIZE)
    }
    await writer.writeBlock(index, bitmap, data)
  }
  return VhdFile.open(file)
}
