import { BAT_READ_CHUNK, SECTOR_SIZE, UNUSED_BAT_ENTRY } from './constants.ts'
import { roundUp, viewOf } from './codec-utils.ts'
import type { RandomAccessFile } from './random-access-file.ts'

/** Bytes the BAT of `entries` blocks occupies on disk (u32 each, padded to a sector). */
export function batSizeBytes(entries: number): number {
  return roundUp(entries * 4, SECTOR_SIZE)
}

/** Decodes `entries` big-endian u32 sector offsets from `bytes`. */
export function decodeBat(bytes: Uint8Array, entries: number): Uint32Array {
  const view = viewOf(bytes)
  const bat = new Uint32Array(entries)
  for (let i = 0; i < entries; i++) bat[i] = view.getUint32(i * 4)
  return bat
}

/**
 * Reads `entries` BAT entries at `offset` of `file` in pieces of BAT_READ_CHUNK bytes, so a large
 * (already bounded) BAT is never held twice in memory; undefined when the file ends first.
 */
export async function readBat(
  file: RandomAccessFile,
  offset: number,
  entries: number,
): Promise<Uint32Array | undefined> {
  const bat = new Uint32Array(entries)
  const perPiece = BAT_READ_CHUNK / 4
  for (let first = 0; first < entries; first += perPiece) {
    const count = Math.min(perPiece, entries - first)
    const bytes = await file.read(offset + first * 4, count * 4)
    if (bytes.length < count * 4) return undefined
    const view = viewOf(bytes)
    for (let i = 0; i < count; i++) bat[first + i] = view.getUint32(i * 4)
  }
  return bat
}

/** Encodes a BAT padded to a sector with unused (0xFFFFFFFF) entries. */
export function encodeBat(bat: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(batSizeBytes(bat.length)).fill(0xff)
  const view = viewOf(bytes)
  bat.forEach((entry, i) => {
    view.setUint32(i * 4, entry)
  })
  return bytes
}

/** Encodes one BAT entry (4 bytes), for in-place updates. */
export function encodeBatEntry(entry: number): Uint8Array {
  const bytes = new Uint8Array(4)
  viewOf(bytes).setUint32(0, entry)
  return bytes
}

/** Bytes of a block's sector bitmap: one bit per sector, padded to a sector (512 for 2 MiB blocks). */
export function bitmapSizeBytes(blockSize: number): number {
  return roundUp(blockSize / SECTOR_SIZE / 8, SECTOR_SIZE)
}

/** True when sector `sector` of the block is marked present (MSB first: byte s>>3, mask 0x80>>(s&7)). */
export function isSectorSet(bitmap: Uint8Array, sector: number): boolean {
  return ((bitmap[sector >> 3] ?? 0) & (0x80 >> (sector & 7))) !== 0
}

/** A bitmap with every sector of the block marked present, as XAPI, XO and qemu write it. */
export function fullBitmap(blockSize: number): Uint8Array {
  return new Uint8Array(bitmapSizeBytes(blockSize)).fill(0xff)
}

/** True when the first `sectors` bits of `bitmap` are all set. */
export function isBitmapFull(bitmap: Uint8Array, sectors: number): boolean {
  const whole = sectors >> 3
  for (let i = 0; i < whole; i++) if (bitmap[i] !== 0xff) return false
  for (let s = whole * 8; s < sectors; s++) if (!isSectorSet(bitmap, s)) return false
  return true
}

/** True when no bit of `bitmap` is set. */
export function isBitmapEmpty(bitmap: Uint8Array): boolean {
  return bitmap.every((byte) => byte === 0)
}

/** Is `entry` an allocated BAT entry. */
export function isAllocated(entry: number | undefined): entry is number {
  return entry !== undefined && entry !== UNUSED_BAT_ENTRY
}
