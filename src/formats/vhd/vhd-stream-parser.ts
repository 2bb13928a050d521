import type { BlockSource, DiskBlock } from '../block-source.ts'
import { batSizeBytes, bitmapSizeBytes, decodeBat, isAllocated, isBitmapFull, isSectorSet } from './bat.ts'
import { DiskType, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE } from './constants.ts'
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

/**
 * Parses a dynamic or differencing VHD stream (XAPI `/export_raw_vdi?format=vhd` or XO layout:
 * footer copy, header, BAT, blocks in increasing file offset, footer) reading forward only; blocks
 * are yielded in file order with one block in memory, and the trailing footer is checked at the end.
 */
export async function parseVhdStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  name = 'stream',
): Promise<ParsedVhdStream> {
  const cursor = new StreamCursor(source, name)
  const footerBytes = await cursor.read(FOOTER_SIZE, 'footer copy')
  throwFirst(validateFooter(footerBytes, name, 0))
  const footer = decodeFooter(footerBytes)
  if (footer.diskType === DiskType.fixed)
    fail('VHD_UNSUPPORTED', name, 60, 'footer.diskType', 'a dynamic or differencing stream', 'fixed')
  await cursor.skipTo(footer.dataOffset, 'header')
  const headerBytes = await cursor.read(HEADER_SIZE, 'header')
  throwFirst(validateHeader(headerBytes, name, footer.dataOffset, footer.currentSize))
  const header = decodeHeader(headerBytes)
  const { blockSize } = header
  // More entries than a 2 TiB disk needs is garbage; refuse before allocating the BAT.
  if (header.maxTableEntries > Math.ceil(2 ** 41 / blockSize)) {
    fail(
      'VHD_INVALID',
      name,
      footer.dataOffset + 28,
      'header.maxTableEntries',
      `<= ${Math.ceil(2 ** 41 / blockSize)}`,
      header.maxTableEntries,
    )
  }
  await cursor.skipTo(header.tableOffset, 'BAT')
  const bat = decodeBat(
    await cursor.read(batSizeBytes(header.maxTableEntries), 'BAT'),
    header.maxTableEntries,
  )
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

function throwFirst(issues: readonly VhdIssue[]): void {
  const first = issues[0]
  if (first !== undefined) throw new VhdError(first)
}
