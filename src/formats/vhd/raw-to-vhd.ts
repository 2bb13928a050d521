// raw image -> VHD file in one pass (convertRawToVhd), and the block reads and choices it shares
// with rawBlockSource (the two-pass source for streams, in conversions.ts).
import { batSizeBytes, bitmapSizeBytes } from './bat.ts'
import { isAllZero, roundUp } from './codec-utils.ts'
import { DEFAULT_BLOCK_SIZE, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE } from './constants.ts'
import type { RandomAccessFile, WritableFile } from './random-access-file.ts'
import { pageAlignedBuffer } from './random-access-file.ts'
import type { VhdChain } from './vhd-chain.ts'
import { fail } from './vhd-error.ts'
import type { VhdParentRef } from './vhd-stream-writer.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

// Alignment of O_DIRECT buffers, offsets and lengths that every Linux block device accepts.
const DIRECT_ALIGNMENT = 4096

/**
 * Reads raw block `index` into `target` (blockSize bytes) and returns the view of it that lies in
 * the disk (the raw size rounded up to a sector), zero past the raw end; a short read (the file
 * shrank while being read) is VHD_TRUNCATED rather than silent zeros.
 */
export async function readRawBlock(
  raw: RandomAccessFile,
  rawSize: number,
  index: number,
  target: Uint8Array,
): Promise<Uint8Array> {
  const start = index * target.length
  const expected = Math.max(0, Math.min(target.length, rawSize - start))
  // Whole 4 KiB pages even at the end of the file: an O_DIRECT file takes only aligned lengths, and
  // a read past the end stops there anyway.
  const into = target.subarray(0, Math.min(target.length, roundUp(expected, DIRECT_ALIGNMENT)))
  let done: number
  if (raw.readInto === undefined) {
    const bytes = await raw.read(start, expected)
    into.set(bytes)
    done = bytes.length
  } else done = await raw.readInto(start, into)
  if (done < expected)
    fail('VHD_TRUNCATED', raw.name, start + done, 'raw image', `${rawSize} bytes`, `${start + done} bytes`)
  target.fill(0, expected)
  return target.subarray(0, Math.min(target.length, roundUp(rawSize, SECTOR_SIZE) - start))
}

/** Whether a block goes into the VHD: not all zero, or with `parent` different from the parent's content. */
export function keepBlock(
  parent: VhdChain | undefined,
  index: number,
  data: Uint8Array,
  scratch: Uint8Array | undefined,
): boolean | Promise<boolean> {
  if (parent === undefined) return !isAllZero(data)
  return differsFromParent(parent, index, data, scratch)
}

async function differsFromParent(
  parent: VhdChain,
  index: number,
  data: Uint8Array,
  scratch: Uint8Array | undefined,
): Promise<boolean> {
  if (index >= parent.blockCount || !parent.hasBlock(index)) return !isAllZero(data)
  const theirs = await parent.readBlock(index, scratch)
  const length = Math.min(data.length, Math.max(0, parent.virtualSize - index * parent.blockSize))
  if (!Buffer.from(data.buffer, data.byteOffset, length).equals(theirs.subarray(0, length))) return true
  return !isAllZero(data.subarray(length))
}

/** Options of convertRawToVhd. */
export interface RawToVhdOptions {
  readonly uniqueId: string
  /** Footer timestamp (epoch ms), from the caller's Clock. */
  readonly timestampMs: number
  readonly blockSize?: number
  /** Make a differencing disk over `chain`, holding only the blocks whose content differs from its. */
  readonly parent?: { readonly chain: VhdChain; readonly ref: VhdParentRef }
  /** Start a background sync after each this many bytes appended (default FLUSH_EVERY_BYTES). */
  readonly flushEveryBytes?: number
}

/** What convertRawToVhd wrote: the disk's size, the blocks stored (ascending) and the file's length. */
export interface RawToVhdResult {
  readonly virtualSize: number
  readonly blockIndexes: readonly number[]
  readonly sizeBytes: number
}

// Blocks in flight: one being checked and written while the next ones are read (the reads and
// writes run on libuv's thread pool, the zero check on the main thread).
const DEPTH = 3
// A background fdatasync after each such amount of appended data, one at a time: the disk writes
// while we read and copy, so the final sync waits for the last few MiB instead of the whole file
// (1 GiB: 3.7 s -> 2.8 s here). Every flush's error is reported: after a failed writeback a later
// fsync may succeed although the data is lost.
const FLUSH_EVERY_BYTES = 64 * 2 ** 20

/**
 * Writes the raw image `raw` into the empty file `out` as a dynamic VHD (differencing with
 * `parent`) in one pass, then syncs it: each block is read once into a reused page-aligned buffer,
 * an all-zero block (or one equal to the parent's) is dropped, a kept block is appended with its
 * bitmap while the next ones are read, and the header, BAT and footers are written last. The bytes
 * are those planVhdStream plans for the same blocks (its layout, checked here).
 */
export async function convertRawToVhd(
  raw: RandomAccessFile,
  out: WritableFile,
  options: RawToVhdOptions,
): Promise<RawToVhdResult> {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE
  const rawSize = await raw.size()
  const virtualSize = roundUp(rawSize, SECTOR_SIZE)
  const plan = (blockIndexes: readonly number[], placeholder: Uint8Array) =>
    planVhdStream(
      {
        virtualSize,
        blockSize,
        blockIndexes,
        async *blocks() {
          for (const index of blockIndexes) yield await Promise.resolve({ index, data: placeholder })
        },
      },
      {
        uniqueId: options.uniqueId,
        timestampMs: options.timestampMs,
        ...(options.parent === undefined ? {} : { parent: options.parent.ref }),
      },
    )
  plan([], new Uint8Array(0)) // validates the sizes before anything is read or written
  const bitmapSize = bitmapSizeBytes(blockSize)
  const blockBytes = bitmapSize + blockSize
  const dataStart = FOOTER_SIZE + HEADER_SIZE + batSizeBytes(Math.ceil(virtualSize / blockSize))
  const kept = await appendBlocks(raw, out, {
    rawSize,
    blockSize,
    dataStart,
    parent: options.parent?.chain,
    flushEvery: options.flushEveryBytes ?? FLUSH_EVERY_BYTES,
  })
  const placeholder = new Uint8Array(blockSize)
  const stream = plan(kept, placeholder)
  const footerAt = dataStart + kept.length * blockBytes
  if (stream.sizeBytes !== footerAt + FOOTER_SIZE)
    fail('VHD_INVALID', out.name, footerAt, 'planned layout', footerAt + FOOTER_SIZE, stream.sizeBytes)
  // The planned stream, minus the blocks already in place: metadata before dataStart, footer at the end.
  let offset = 0
  for await (const chunk of stream.chunks()) {
    if (offset < dataStart || offset === footerAt) await out.write(offset, chunk)
    offset += chunk.length
  }
  await out.sync()
  return { virtualSize, blockIndexes: kept, sizeBytes: stream.sizeBytes }
}

interface AppendContext {
  readonly rawSize: number
  readonly blockSize: number
  readonly dataStart: number
  readonly parent: VhdChain | undefined
  readonly flushEvery: number
}

/** Reads every raw block once and appends the kept ones (bitmap + data) from `dataStart`; returns their indexes. */
async function appendBlocks(
  raw: RandomAccessFile,
  out: WritableFile,
  context: AppendContext,
): Promise<number[]> {
  const { rawSize, blockSize, dataStart, parent, flushEvery } = context
  const bitmapSize = bitmapSizeBytes(blockSize)
  const blockBytes = bitmapSize + blockSize
  const count = Math.ceil(roundUp(rawSize, SECTOR_SIZE) / blockSize)
  // One slot per block in flight, each a full bitmap then the data, written with one call. The data
  // starts on a page boundary: an O_DIRECT read needs it, and page copies are fastest there (see
  // pageAlignedBuffer); the bitmap sits in the end of the page before.
  const head = roundUp(bitmapSize, DIRECT_ALIGNMENT)
  const stride = head + blockSize
  const arena = pageAlignedBuffer(stride * DEPTH)
  const slots = Array.from({ length: DEPTH }, (_, i) =>
    arena.subarray(i * stride + head - bitmapSize, (i + 1) * stride),
  )
  for (const slot of slots) slot.fill(0xff, 0, bitmapSize)
  const scratch = parent === undefined ? undefined : pageAlignedBuffer(parent.scratchSize)
  const writes: Promise<unknown>[] = []
  const reads: Promise<Uint8Array>[] = []
  // Each promise gets a handler at once: one that fails while the loop awaits another must not be
  // an unhandled rejection; the loop or the final wait still sees its error.
  const track = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(() => undefined)
    return promise
  }
  const read = (index: number): Promise<Uint8Array> => {
    const slot = slots[index % DEPTH] as Uint8Array
    // The slot's previous block must be on its way to disk before the slot is overwritten.
    const previous = writes[index % DEPTH]
    return track(
      (async () => {
        await previous
        return readRawBlock(raw, rawSize, index, slot.subarray(bitmapSize))
      })(),
    )
  }
  const kept: number[] = []
  const flushes: Promise<void>[] = []
  let flushing = false
  try {
    for (let index = 0; index < Math.min(DEPTH - 1, count); index++) reads[index % DEPTH] = read(index)
    for (let index = 0; index < count; index++) {
      const data = await (reads[index % DEPTH] as Promise<Uint8Array>)
      const ahead = index + DEPTH - 1
      if (ahead < count) reads[ahead % DEPTH] = read(ahead)
      if (await keepBlock(parent, index, data, scratch)) {
        const at = dataStart + kept.length * blockBytes
        kept.push(index)
        writes[index % DEPTH] = track(out.write(at, slots[index % DEPTH] as Uint8Array))
        if (!flushing && (kept.length * blockBytes) % flushEvery < blockBytes) {
          flushing = true
          flushes.push(track(out.sync().finally(() => (flushing = false))))
        }
      }
    }
  } finally {
    // Nothing may still be reading into or writing from the slots when the caller closes the files.
    await Promise.allSettled([...reads, ...writes, ...flushes])
  }
  await Promise.all([...writes, ...flushes])
  return kept
}
