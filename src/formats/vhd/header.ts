import { FORMAT_VERSION, HEADER_SIZE, MAX_BAT_ENTRIES, MAX_READABLE_SIZE, SECTOR_SIZE } from './constants.ts'
import {
  asciiOf,
  computeChecksum,
  readU64,
  uuidFromBytes,
  viewOf,
  writeU64,
  writeUuid,
} from './codec-utils.ts'
import { hex } from './footer.ts'
import type { VhdIssue } from './vhd-error.ts'
import { issue } from './vhd-error.ts'

const COOKIE = 'cxsparse'
const CHECKSUM_OFFSET = 36
const LOCATORS_OFFSET = 576
const LOCATOR_SIZE = 24
const NULL_UUID = '00000000-0000-0000-0000-000000000000'

/** One parent locator entry (spec "Parent Locator Entries"); `platformCode` 0 means unused. */
export interface ParentLocator {
  readonly platformCode: number
  /** Sectors per the spec; some writers put bytes (values >= 512 are taken as bytes, like XAPI). */
  readonly dataSpace: number
  readonly dataLength: number
  readonly dataOffset: number
}

/** The decoded dynamic disk header (spec "Dynamic Disk Header Format"). */
export interface VhdHeader {
  readonly cookie: string
  readonly dataOffset: number
  readonly tableOffset: number
  readonly headerVersion: number
  readonly maxTableEntries: number
  readonly blockSize: number
  readonly checksum: number
  readonly parentUniqueId: string
  readonly parentTimestamp: number
  readonly parentUnicodeName: string
  readonly parentLocators: readonly ParentLocator[]
}

/** What a new header needs; a differencing disk also gives its parent's UUID and relative path. */
export interface HeaderInit {
  readonly tableOffset: number
  readonly maxTableEntries: number
  readonly blockSize: number
  readonly parent?: { readonly uniqueId: string; readonly relativePath: string; readonly timestamp: number }
}

/** A header for a new disk (no parent locators: the parent is named by `parentUnicodeName`, as XO does). */
export function createHeader(init: HeaderInit): VhdHeader {
  const header: VhdHeader = {
    cookie: COOKIE,
    dataOffset: Infinity,
    tableOffset: init.tableOffset,
    headerVersion: FORMAT_VERSION,
    maxTableEntries: init.maxTableEntries,
    blockSize: init.blockSize,
    checksum: 0,
    parentUniqueId: init.parent?.uniqueId ?? NULL_UUID,
    parentTimestamp: init.parent?.timestamp ?? 0,
    parentUnicodeName: init.parent?.relativePath ?? '',
    parentLocators: [],
  }
  return decodeHeader(encodeHeader(header))
}

/** Encodes a header, recomputing the checksum. */
export function encodeHeader(header: VhdHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE)
  const view = viewOf(bytes)
  bytes.set(Buffer.from(header.cookie.padEnd(8, '\0').slice(0, 8), 'latin1'), 0)
  writeU64(view, 8, header.dataOffset)
  writeU64(view, 16, header.tableOffset)
  view.setUint32(24, header.headerVersion)
  view.setUint32(28, header.maxTableEntries)
  view.setUint32(32, header.blockSize)
  writeUuid(bytes, 40, header.parentUniqueId)
  view.setUint32(56, header.parentTimestamp)
  // Parent name: UTF-16BE, 512 bytes (spec "Parent Unicode Name").
  const name = Buffer.from(header.parentUnicodeName, 'utf16le').swap16()
  if (name.length > 512)
    throw new RangeError(`parent name longer than 256 UTF-16 units: ${header.parentUnicodeName}`)
  bytes.set(name, 64)
  header.parentLocators.forEach((locator, i) => {
    const at = LOCATORS_OFFSET + i * LOCATOR_SIZE
    view.setUint32(at, locator.platformCode)
    view.setUint32(at + 4, locator.dataSpace)
    view.setUint32(at + 8, locator.dataLength)
    writeU64(view, at + 16, locator.dataOffset)
  })
  view.setUint32(CHECKSUM_OFFSET, computeChecksum(bytes, CHECKSUM_OFFSET))
  return bytes
}

/** Decodes 1024 bytes as a header without judging them (see validateHeader). */
export function decodeHeader(bytes: Uint8Array): VhdHeader {
  const view = viewOf(bytes)
  const raw = Buffer.from(bytes.subarray(64, 576))
  const name = Buffer.from(raw).swap16().toString('utf16le')
  const end = name.indexOf('\0')
  const parentLocators: ParentLocator[] = []
  for (let i = 0; i < 8; i++) {
    const at = LOCATORS_OFFSET + i * LOCATOR_SIZE
    parentLocators.push({
      platformCode: view.getUint32(at),
      dataSpace: view.getUint32(at + 4),
      dataLength: view.getUint32(at + 8),
      dataOffset: readU64(view, at + 16),
    })
  }
  return {
    cookie: asciiOf(bytes.subarray(0, 8)),
    dataOffset: readU64(view, 8),
    tableOffset: readU64(view, 16),
    headerVersion: view.getUint32(24),
    maxTableEntries: view.getUint32(28),
    blockSize: view.getUint32(32),
    checksum: view.getUint32(CHECKSUM_OFFSET),
    parentUniqueId: uuidFromBytes(bytes.subarray(40, 56)),
    parentTimestamp: view.getUint32(56),
    parentUnicodeName: end === -1 ? name : name.slice(0, end),
    parentLocators,
  }
}

/**
 * Most BAT entries a header with `blockSize` may declare: enough for the largest disk we read
 * (BATs sized for growth, like SM's 2 TiB `msize`, are legit), capped at MAX_BAT_ENTRIES.
 */
export function maxTableEntriesFor(blockSize: number): number {
  return Math.min(MAX_BAT_ENTRIES, Math.ceil(MAX_READABLE_SIZE / blockSize))
}

/** Bytes a locator reserves in the file (dataSpace in sectors, or in bytes when >= 512). */
export function locatorSpaceBytes(locator: ParentLocator): number {
  return locator.dataSpace >= SECTOR_SIZE ? locator.dataSpace : locator.dataSpace * SECTOR_SIZE
}

/** Every problem of the header `bytes` read at `offset` of `file` for a disk of `virtualSize` bytes. */
export function validateHeader(
  bytes: Uint8Array,
  file: string,
  offset: number,
  virtualSize: number,
): VhdIssue[] {
  const header = decodeHeader(bytes)
  const issues: VhdIssue[] = []
  const at = (field: string, fieldOffset: number, expected: string | number, got: string | number): void => {
    issues.push(issue('VHD_INVALID', file, offset + fieldOffset, `header.${field}`, expected, got))
  }
  if (header.cookie !== COOKIE) at('cookie', 0, COOKIE, header.cookie)
  const checksum = computeChecksum(bytes, CHECKSUM_OFFSET)
  if (header.checksum !== checksum) at('checksum', CHECKSUM_OFFSET, hex(checksum), hex(header.checksum))
  if (header.headerVersion !== FORMAT_VERSION)
    at('headerVersion', 24, hex(FORMAT_VERSION), hex(header.headerVersion))
  const { blockSize } = header
  // A power of two from 4 KiB (one bitmap byte covers 8 sectors) to 256 MiB keeps block arithmetic sane.
  if (blockSize < 4096 || blockSize > 2 ** 28 || (blockSize & (blockSize - 1)) !== 0) {
    at('blockSize', 32, 'a power of two in [4096, 2^28]', blockSize)
  } else if (header.maxTableEntries < Math.ceil(virtualSize / blockSize)) {
    at(
      'maxTableEntries',
      28,
      `>= ${Math.ceil(virtualSize / blockSize)} (footer.currentSize / blockSize)`,
      header.maxTableEntries,
    )
  } else if (header.maxTableEntries > maxTableEntriesFor(blockSize)) {
    // Checked before anything is sized from it: a sparse file can declare a BAT of gigabytes.
    const most = maxTableEntriesFor(blockSize)
    const why = most === MAX_BAT_ENTRIES ? 'the most BAT entries we read' : '2 TiB / blockSize'
    issues.push(
      issue(
        most === MAX_BAT_ENTRIES ? 'VHD_UNSUPPORTED' : 'VHD_INVALID',
        file,
        offset + 28,
        'header.maxTableEntries',
        `<= ${most} (${why})`,
        header.maxTableEntries,
      ),
    )
  }
  if (!Number.isFinite(header.tableOffset) || header.tableOffset % SECTOR_SIZE !== 0) {
    at('tableOffset', 16, 'a sector-aligned offset', header.tableOffset)
  }
  return issues
}
