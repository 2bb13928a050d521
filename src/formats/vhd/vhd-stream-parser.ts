import type { BlockSource, DiskBlock } from '../block-source.ts'
import { batSizeBytes, bitmapSizeBytes, isAllocated, isBitmapFull, isSectorSet } from './bat.ts'
import { viewOf } from './codec-utils.ts'
import { BAT_READ_CHUNK, DiskType, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE } from './constants.ts'
import type { VhdFooter } from './footer.ts'
import { decodeFooter, validateFooter } from './footer.ts'
import type { VhdHeader } from './header.ts'
import { decodeHeader, validateHeader } from './header.ts'
import { StreamCursor } from './stream-cursor.ts'
import type { VhdIssue } from './vhd-error.ts'
import { VhdError, fail } from './vhd-error.ts'

/** A VHD arriving as a stream: its footer and header, and its blocks as a single-use block source. */
export interface ParsedVhdStream extends BlockSource {
  readonly footer: VhdFooter
  readonly header: VhdHeader
}

/** Options of parseVhdStream. */
export interface ParseVhdStreamOptions {
  /**
   * The largest disk the caller can take (an import target's virtual size): a stream declaring a
   * larger one is refused from its footer, before its BAT is read.
   */
  readonly maxVirtualSizeBytes?: number
}

/**
 * Parses a dynamic or differencing VHD stream (XAPI `/export_raw_vdi?format=vhd` or XO layout:
 * footer copy, header, BAT, blocks in increasing file offset, footer) reading forward only; blocks
 * are yielded in file order with one block in memory, and the trailing footer is checked at the end.
 * Of the BAT only the entries the disk's size needs are kept; the rest must be unused.
 */
export async function parseVhdStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  name = 'stream',
  options: ParseVhdStreamOptions = {},
): Promise<ParsedVhdStream> {
  const cursor = new StreamCursor(source, name)
  const footerBytes = await cursor.read(FOOTER_SIZE, 'footer copy')
  throwFirst(validateFooter(footerBytes, name, 0))
  const footer = decodeFooter(footerBytes)
  if (footer.diskType === DiskType.fixed)
    fail('VHD_UNSUPPORTED', name, 60, 'footer.diskType', 'a dynamic or differencing stream', 'fixed')
  const { maxVirtualSizeBytes } = options
  if (maxVirtualSizeBytes !== undefined && footer.currentSize > maxVirtualSizeBytes) {
    fail(
      'VHD_INVALID',
      name,
      48,
      'footer.currentSize',
      `<= ${maxVirtualSizeBytes} (the size of the target)`,
      footer.currentSize,
    )
  }
  await cursor.skipTo(footer.dataOffset, 'header')
  const headerBytes = await cursor.read(HEADER_SIZE, 'header')
  // Also bounds maxTableEntries (2 TiB of blocks, MAX_BAT_ENTRIES) before anything is sized from it.
  throwFirst(validateHeader(headerBytes, name, footer.dataOffset, footer.currentSize))
  const header = decodeHeader(headerBytes)
  const { blockSize } = header
  await cursor.skipTo(header.tableOffset, 'BAT')
  const bat = await readNeededBat(cursor, header, Math.ceil(footer.currentSize / blockSize))
  const order: number[] = []
  bat.forEach((entry, index) => {
    if (isAllocated(entry)) order.push(index)
  })
  order.sort((a, b) => (bat[a] ?? 0) - (bat[b] ?? 0))
  let used = false
  return {
    footer,
    header,
    virtualSize: footer.currentSize,
    blockSize,
    blockIndexes: order,
    blocks() {
      if (used) throw new RangeError('parseVhdStream: blocks() can be iterated once')
      used = true
      return readBlocks(cursor, footerBytes, footer, header, bat, order)
    },
  }
}

async function* readBlocks(
  cursor: StreamCursor,
  footerBytes: Uint8Array,
  footer: VhdFooter,
  header: VhdHeader,
  bat: Uint32Array,
  order: number[],
): AsyncGenerator<DiskBlock> {
  const { blockSize } = header
  const bitmapSize = bitmapSizeBytes(blockSize)
  const sectors = blockSize / SECTOR_SIZE
  for (const index of order) {
    const offset = (bat[index] ?? 0) * SECTOR_SIZE
    await cursor.skipTo(offset, `block ${index} (bat[${index}] at ${header.tableOffset + index * 4})`)
    const bitmap = await cursor.read(bitmapSize, `block ${index} bitmap`)
    const data = await cursor.read(blockSize, `block ${index} data`)
    if (!isBitmapFull(bitmap, sectors)) {
      if (footer.diskType === DiskType.differencing) {
        // A block source carries whole blocks: a partial delta block would need the parent's sectors.
        fail(
          'VHD_UNSUPPORTED',
          cursor.name,
          offset,
          `block ${index} bitmap`,
          'all sectors present in a differencing stream',
          'a partial bitmap',
        )
      }
      for (let s = 0; s < sectors; s++)
        if (!isSectorSet(bitmap, s)) data.fill(0, s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE)
    }
    yield { index, data: data.subarray(0, Math.min(blockSize, footer.currentSize - index * blockSize)) }
  }
  const tail = await cursor.readTail(FOOTER_SIZE)
  if (tail.length < FOOTER_SIZE)
    fail('VHD_TRUNCATED', cursor.name, cursor.position, 'footer', `${FOOTER_SIZE} bytes`, tail.length)
  const differs = tail.findIndex((byte, i) => byte !== footerBytes[i])
  if (differs !== -1) {
    fail(
      'VHD_INVALID',
      cursor.name,
      cursor.position - FOOTER_SIZE + differs,
      'footer',
      'identical to the footer copy at 0',
      `differs at byte ${differs}`,
    )
  }
}

/**
 * Reads the BAT piece by piece and keeps its first `needed` entries (the blocks of the disk's
 * size); a BAT sized for growth (SM's 2 TiB `msize`) is legit, but its extra entries must be
 * unused, since no reader would ever look at a block they point to.
 */
async function readNeededBat(cursor: StreamCursor, header: VhdHeader, needed: number): Promise<Uint32Array> {
  const bat = new Uint32Array(needed)
  const totalBytes = batSizeBytes(header.maxTableEntries)
  for (let done = 0; done < totalBytes;) {
    const pieceBytes = Math.min(BAT_READ_CHUNK, totalBytes - done)
    const view = viewOf(await cursor.read(pieceBytes, `BAT bytes ${done}..${done + pieceBytes}`))
    const first = done / 4
    const count = Math.min(pieceBytes / 4, header.maxTableEntries - first)
    for (let i = 0; i < count; i++) {
      const entry = view.getUint32(i * 4)
      if (first + i < needed) bat[first + i] = entry
      else if (isAllocated(entry)) {
        fail(
          'VHD_INVALID',
          cursor.name,
          header.tableOffset + (first + i) * 4,
          `bat[${first + i}]`,
          `unused (0xFFFFFFFF) past the disk's last block ${needed - 1}`,
          entry,
        )
      }
    }
    done += pieceBytes
  }
  return bat
}

function throwFirst(issues: readonly VhdIssue[]): void {
  const first = issues[0]
  if (first !== undefined) throw new VhdError(first)
}
