// Small byte helpers shared by the footer, header and BAT codecs.
import { isAllZero } from '../../shared/bytes.ts'

/** True when every byte is zero (re-exported from src/shared/bytes.ts). */
export { isAllZero }

/** A DataView over `bytes` (no copy). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** One's complement of the byte sum, with the 4 checksum bytes at `checksumOffset` counted as zero (spec "Checksum"). */
export function computeChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0
  for (let i = 0; i < bytes.length; i++) {
    if (i < checksumOffset || i >= checksumOffset + 4) sum += bytes[i] ?? 0
  }
  return ~sum >>> 0
}

/** Reads a u64 as a number; values above 2^53 (only the all-ones marker is legal) come back as Infinity. */
export function readU64(view: DataView, offset: number): number {
  const value = view.getBigUint64(offset)
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(value)
}

/** Writes a u64 from a number; Infinity writes the all-ones marker. */
export function writeU64(view: DataView, offset: number, value: number): void {
  view.setBigUint64(offset, value === Infinity ? 0xffffffffffffffffn : BigInt(value))
}

/** Formats 16 bytes as a canonical lower-case UUID. */
export function uuidFromBytes(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Writes a UUID string as 16 bytes at `offset` of `target`. */
export function writeUuid(target: Uint8Array, offset: number, uuid: string): void {
  const hex = uuid.replace(/-/g, '')
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`)
  target.set(Buffer.from(hex, 'hex'), offset)
}

/** The ASCII text of `bytes` (for cookies and creator fields; control bytes shown as \xNN). */
export function asciiOf(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) {
    out +=
      byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
  }
  return out
}

/** Rounds `value` up to a multiple of `unit`. */
export function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit
}
