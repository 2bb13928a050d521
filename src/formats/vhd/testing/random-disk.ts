import type { BlockSource, DiskBlock } from '../../block-source.ts'
import { isAllZero } from '../codec-utils.ts'
import { DEFAULT_BLOCK_SIZE, SECTOR_SIZE } from '../constants.ts'

/** A seeded PRNG (mulberry32) returning floats in [0, 1): the same seed gives the same disks everywhere. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

function fillRandom(random: () => number, target: Uint8Array): void {
  // A 32-bit value per 4 bytes: enough entropy for content comparisons, fast enough for MiBs.
  for (let i = 0; i < target.length; i += 4) {
    const value = Math.floor(random() * 4294967296)
    target[i] = value & 0xff
    if (i + 1 < target.length) target[i + 1] = (value >>> 8) & 0xff
    if (i + 2 < target.length) target[i + 2] = (value >>> 16) & 0xff
    if (i + 3 < target.length) target[i + 3] = value >>> 24
  }
}

/** One write of a random disk or delta: `length` bytes at `offset`, sector aligned. */
export interface Extent {
  readonly offset: number
  readonly length: number
}

/**
 * Random extents over a disk of `virtualSize` bytes: about `count` runs of sectors, some whole
 * blocks, some a few sectors, some crossing block boundaries; starts and lengths are multiples of `alignSectors`.
 */
export function randomExtents(
  random: () => number,
  virtualSize: number,
  count: number,
  blockSize = DEFAULT_BLOCK_SIZE,
  alignSectors = 1,
): Extent[] {
  const units = Math.floor(virtualSize / SECTOR_SIZE / alignSectors)
  const unitBytes = alignSectors * SECTOR_SIZE
  const out: Extent[] = []
  for (let k = 0; k < count && units > 0; k++) {
    const kind = random()
    const maxSectors = kind < 0.3 ? blockSize / SECTOR_SIZE : kind < 0.7 ? 16 : (2 * blockSize) / SECTOR_SIZE
    const start = randomInt(random, 0, units - 1)
    const length = Math.min(
      randomInt(random, 1, Math.max(1, Math.floor(maxSectors / alignSectors))),
      units - start,
    )
    out.push({ offset: start * unitBytes, length: length * unitBytes })
  }
  return out
}

/** Writes random bytes over each extent of `disk` (in place) and returns it. */
export function applyExtents(random: () => number, disk: Uint8Array, extents: readonly Extent[]): Uint8Array {
  for (const extent of extents)
    fillRandom(random, disk.subarray(extent.offset, extent.offset + extent.length))
  return disk
}

/** A random sparse raw disk of `virtualSize` bytes with about `count` written extents. */
export function randomSparseDisk(
  random: () => number,
  virtualSize: number,
  count: number,
  blockSize = DEFAULT_BLOCK_SIZE,
): Uint8Array {
  return applyExtents(
    random,
    new Uint8Array(virtualSize),
    randomExtents(random, virtualSize, count, blockSize),
  )
}

/** A block source over an in-memory raw disk: every non-zero block (or exactly `indexes`). */
export function bufferBlockSource(
  disk: Uint8Array,
  blockSize = DEFAULT_BLOCK_SIZE,
  indexes?: readonly number[],
): BlockSource {
  const blockOf = (index: number): Uint8Array =>
    disk.subarray(index * blockSize, Math.min(disk.length, (index + 1) * blockSize))
  const blockIndexes =
    indexes ??
    Array.from({ length: Math.ceil(disk.length / blockSize) }, (_, i) => i).filter(
      (i) => !isAllZero(blockOf(i)),
    )
  return {
    virtualSize: disk.length,
    blockSize,
    blockIndexes,
    async *blocks(): AsyncGenerator<DiskBlock> {
      for (const index of blockIndexes) yield await Promise.resolve({ index, data: blockOf(index) })
    },
  }
}

/** Concatenates an async byte stream into one buffer (small test disks only). */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Asserts two byte arrays are equal, naming the first differing offset (fast on MiBs, unlike deepEqual). */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`)
  if (
    Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(
      Buffer.from(expected.buffer, expected.byteOffset, expected.length),
    )
  )
    return
  const at = actual.findIndex((byte, i) => byte !== expected[i])
  throw new Error(
    `${what}: first difference at byte ${at} (sector ${Math.floor(at / 512)}): got ${actual[at]}, expected ${expected[at]}`,
  )
}

/** Copies each chunk of a stream into one buffer (safe with chunks that reuse one buffer). */
export async function collectCopies(chunks: AsyncIterable<Uint8Array>, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let offset = 0
  for await (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  if (offset !== length) throw new Error(`stream gave ${offset} bytes, expected ${length}`)
  return out
}
