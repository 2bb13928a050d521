import type { BlockSource } from '../block-source.ts'
import { batSizeBytes, bitmapSizeBytes, encodeBat, fullBitmap } from './bat.ts'
import {
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  MAX_VIRTUAL_SIZE,
  SECTOR_SIZE,
  UNUSED_BAT_ENTRY,
} from './constants.ts'
import type { VhdFooter } from './footer.ts'
import { createFooter, encodeFooter, toVhdTimestamp } from './footer.ts'
import { createHeader, encodeHeader } from './header.ts'
import { fail } from './vhd-error.ts'

/** The parent of a differencing disk: its footer UUID and its path relative to the child's directory. */
export interface VhdParentRef {
  readonly uniqueId: string
  readonly relativePath: string
  /** Parent modification time (epoch ms) for the header's `parentTimestamp`; 0 when unknown. */
  readonly timestampMs?: number
}

/** Options of planVhdStream. */
export interface VhdStreamOptions {
  readonly uniqueId: string
  /** Footer timestamp (epoch ms), from the caller's Clock. */
  readonly timestampMs: number
  /** Makes a differencing disk over this parent; otherwise a dynamic disk. */
  readonly parent?: VhdParentRef
}

/** A VHD byte stream whose total length is known before the first byte is produced. */
export interface VhdStream {
  readonly sizeBytes: number
  readonly footer: VhdFooter
  /** Produces the bytes once; memory holds one block at a time. */
  chunks(): AsyncGenerator<Uint8Array>
}

const TABLE_OFFSET = FOOTER_SIZE + HEADER_SIZE

/**
 * Plans a dynamic or differencing VHD of `source`: footer copy, header, BAT at 1536, then each block
 * (all-ones bitmap + data, short blocks zero-padded) in `blockIndexes` order, then the footer.
 */
export function planVhdStream(source: BlockSource, options: VhdStreamOptions): VhdStream {
  const { virtualSize, blockSize, blockIndexes } = source
  validateSource(source)
  const entries = Math.ceil(virtualSize / blockSize)
  const bitmapSize = bitmapSizeBytes(blockSize)
  const dataStart = TABLE_OFFSET + batSizeBytes(entries)
  const bat = new Uint32Array(entries).fill(UNUSED_BAT_ENTRY)
  blockIndexes.forEach((index, k) => {
    bat[index] = (dataStart + k * (bitmapSize + blockSize)) / SECTOR_SIZE
  })
  const footer = createFooter({
    virtualSize,
    diskType: options.parent === undefined ? DiskType.dynamic : DiskType.differencing,
    uniqueId: options.uniqueId,
    timestampMs: options.timestampMs,
  })
  const parent = options.parent
  const header = createHeader({
    tableOffset: TABLE_OFFSET,
    maxTableEntries: entries,
    blockSize,
    ...(parent === undefined
      ? {}
      : {
          parent: {
            uniqueId: parent.uniqueId,
            relativePath: parent.relativePath,
            timestamp: toVhdTimestamp(parent.timestampMs ?? 0),
          },
        }),
  })
  const sizeBytes = dataStart + blockIndexes.length * (bitmapSize + blockSize) + FOOTER_SIZE
  const footerBytes = encodeFooter(footer)
  const metadata = [footerBytes, encodeHeader(header), encodeBat(bat)]
  return { sizeBytes, footer, chunks: () => streamChunks(source, metadata, footerBytes) }
}

async function* streamChunks(
  source: BlockSource,
  metadata: Uint8Array[],
  footerBytes: Uint8Array,
): AsyncGenerator<Uint8Array> {
  const { blockSize, blockIndexes } = source
  yield* metadata
  const bitmap = fullBitmap(blockSize)
  let k = 0
  for await (const block of source.blocks()) {
    if (block.index !== blockIndexes[k] || block.data.length > blockSize) {
      fail(
        'VHD_BAD_ARGUMENT',
        'block source',
        k,
        'blocks()',
        `block ${blockIndexes[k]} of <= ${blockSize} bytes`,
        `block ${block.index} of ${block.data.length} bytes`,
      )
    }
    k++
    yield bitmap
    yield block.data
    if (block.data.length < blockSize) yield new Uint8Array(blockSize - block.data.length)
  }
  if (k !== blockIndexes.length) {
    fail('VHD_BAD_ARGUMENT', 'block source', k, 'blocks()', `${blockIndexes.length} blocks`, k)
  }
  yield footerBytes
}

function validateSource(source: BlockSource): void {
  const { virtualSize, blockSize, blockIndexes } = source
  if (
    !Number.isSafeInteger(virtualSize) ||
    virtualSize < 0 ||
    virtualSize % SECTOR_SIZE !== 0 ||
    virtualSize > MAX_VIRTUAL_SIZE
  ) {
    fail(
      'VHD_BAD_ARGUMENT',
      'block source',
      0,
      'virtualSize',
      `a multiple of 512 in [0, ${MAX_VIRTUAL_SIZE}]`,
      virtualSize,
    )
  }
  if (blockSize < 4096 || blockSize > 2 ** 28 || (blockSize & (blockSize - 1)) !== 0) {
    fail('VHD_BAD_ARGUMENT', 'block source', 0, 'blockSize', 'a power of two in [4096, 2^28]', blockSize)
  }
  const entries = Math.ceil(virtualSize / blockSize)
  const seen = new Set<number>()
  blockIndexes.forEach((index, k) => {
    if (!Number.isInteger(index) || index < 0 || index >= entries || seen.has(index)) {
      fail(
        'VHD_BAD_ARGUMENT',
        'block source',
        k,
        'blockIndexes',
        `distinct integers in [0, ${entries})`,
        index,
      )
    }
    seen.add(index)
  })
}
