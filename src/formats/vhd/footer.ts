import type { DiskTypeValue } from './constants.ts'
import {
  CREATOR_APPLICATION,
  DiskType,
  FOOTER_SIZE,
  FORMAT_VERSION,
  MAX_READABLE_SIZE,
  VHD_EPOCH_MS,
} from './constants.ts'
import {
  asciiOf,
  computeChecksum,
  readU64,
  uuidFromBytes,
  viewOf,
  writeU64,
  writeUuid,
} from './codec-utils.ts'
import type { Geometry } from './geometry.ts'
import { computeGeometry } from './geometry.ts'
import type { VhdIssue } from './vhd-error.ts'
import { issue } from './vhd-error.ts'

const COOKIE = 'conectix'
const CHECKSUM_OFFSET = 64

/** The decoded hard disk footer (spec "Hard Disk Footer Format"); `dataOffset` is Infinity for fixed disks. */
export interface VhdFooter {
  readonly cookie: string
  readonly features: number
  readonly fileFormatVersion: number
  readonly dataOffset: number
  /** Seconds since 2000-01-01T00:00:00Z. */
  readonly timestamp: number
  readonly creatorApplication: string
  readonly creatorVersion: number
  readonly creatorHostOs: number
  readonly originalSize: number
  readonly currentSize: number
  readonly geometry: Geometry
  readonly diskType: number
  readonly checksum: number
  readonly uniqueId: string
  readonly savedState: number
}

/** What a new footer needs; the rest takes our defaults (creator `tap\0`, see docs/formats/vhd.md). */
export interface FooterInit {
  readonly virtualSize: number
  readonly diskType: DiskTypeValue
  readonly uniqueId: string
  readonly timestampMs: number
}

/** A footer for a new disk, its checksum already computed. */
export function createFooter(init: FooterInit): VhdFooter {
  const footer: VhdFooter = {
    cookie: COOKIE,
    features: 2,
    fileFormatVersion: FORMAT_VERSION,
    dataOffset: init.diskType === DiskType.fixed ? Infinity : FOOTER_SIZE,
    timestamp: toVhdTimestamp(init.timestampMs),
    creatorApplication: CREATOR_APPLICATION,
    creatorVersion: 0x00010000,
    creatorHostOs: 0,
    originalSize: init.virtualSize,
    currentSize: init.virtualSize,
    geometry: computeGeometry(init.virtualSize),
    diskType: init.diskType,
    checksum: 0,
    uniqueId: init.uniqueId,
    savedState: 0,
  }
  return { ...footer, checksum: computeChecksum(encodeFooter(footer), CHECKSUM_OFFSET) }
}

/** VHD seconds (2000 epoch) from epoch milliseconds, clamped to the u32 range. */
export function toVhdTimestamp(epochMs: number): number {
  return Math.min(0xffffffff, Math.max(0, Math.floor((epochMs - VHD_EPOCH_MS) / 1000)))
}

/** Encodes a footer, recomputing the checksum from the other fields. */
export function encodeFooter(footer: VhdFooter): Uint8Array {
  const bytes = new Uint8Array(FOOTER_SIZE)
  const view = viewOf(bytes)
  bytes.set(Buffer.from(footer.cookie.padEnd(8, '\0').slice(0, 8), 'latin1'), 0)
  view.setUint32(8, footer.features)
  view.setUint32(12, footer.fileFormatVersion)
  writeU64(view, 16, footer.dataOffset)
  view.setUint32(24, footer.timestamp)
  bytes.set(Buffer.from(footer.creatorApplication.padEnd(4, '\0').slice(0, 4), 'latin1'), 28)
  view.setUint32(32, footer.creatorVersion)
  view.setUint32(36, footer.creatorHostOs)
  writeU64(view, 40, footer.originalSize)
  writeU64(view, 48, footer.currentSize)
  view.setUint16(56, footer.geometry.cylinders)
  view.setUint8(58, footer.geometry.heads)
  view.setUint8(59, footer.geometry.sectorsPerTrack)
  view.setUint32(60, footer.diskType)
  writeUuid(bytes, 68, footer.uniqueId)
  view.setUint8(84, footer.savedState)
  view.setUint32(CHECKSUM_OFFSET, computeChecksum(bytes, CHECKSUM_OFFSET))
  return bytes
}

/** Decodes 512 bytes as a footer without judging them (see validateFooter). */
export function decodeFooter(bytes: Uint8Array): VhdFooter {
  const view = viewOf(bytes)
  return {
    cookie: asciiOf(bytes.subarray(0, 8)),
    features: view.getUint32(8),
    fileFormatVersion: view.getUint32(12),
    dataOffset: readU64(view, 16),
    timestamp: view.getUint32(24),
    creatorApplication: Buffer.from(bytes.subarray(28, 32)).toString('latin1'),
    creatorVersion: view.getUint32(32),
    creatorHostOs: view.getUint32(36),
    originalSize: readU64(view, 40),
    currentSize: readU64(view, 48),
    geometry: { cylinders: view.getUint16(56), heads: view.getUint8(58), sectorsPerTrack: view.getUint8(59) },
    diskType: view.getUint32(60),
    checksum: view.getUint32(CHECKSUM_OFFSET),
    uniqueId: uuidFromBytes(bytes.subarray(68, 84)),
    savedState: view.getUint8(84),
  }
}

/** Every structural problem of the footer `bytes` found at `offset` of `file` (empty when valid). */
export function validateFooter(bytes: Uint8Array, file: string, offset: number): VhdIssue[] {
  const footer = decodeFooter(bytes)
  const issues: VhdIssue[] = []
  const at = (field: string, fieldOffset: number, expected: string | number, got: string | number): void => {
    issues.push(issue('VHD_INVALID', file, offset + fieldOffset, `footer.${field}`, expected, got))
  }
  if (footer.cookie !== COOKIE) at('cookie', 0, COOKIE, footer.cookie)
  const checksum = computeChecksum(bytes, CHECKSUM_OFFSET)
  if (footer.checksum !== checksum) at('checksum', CHECKSUM_OFFSET, hex(checksum), hex(footer.checksum))
  if (footer.fileFormatVersion !== FORMAT_VERSION)
    at('fileFormatVersion', 12, hex(FORMAT_VERSION), hex(footer.fileFormatVersion))
  const type = footer.diskType
  if (type !== DiskType.fixed && type !== DiskType.dynamic && type !== DiskType.differencing) {
    at('diskType', 60, '2, 3 or 4', type)
  } else if (type === DiskType.fixed ? footer.dataOffset !== Infinity : !Number.isFinite(footer.dataOffset)) {
    at(
      'dataOffset',
      16,
      type === DiskType.fixed ? '0xffffffffffffffff' : 'a header offset',
      footer.dataOffset,
    )
  }
  if (!(footer.currentSize <= MAX_READABLE_SIZE) || footer.currentSize % 512 !== 0) {
    at('currentSize', 48, `a multiple of 512 <= ${MAX_READABLE_SIZE}`, footer.currentSize)
  }
  return issues
}

/** `0x`-prefixed hex of a u32, for messages. */
export function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`
}
