// Deterministic disk content for the simulator: which blocks a disk holds and what bytes they
// hold, derived from a seed only, one 2 MiB block at a time (never a whole disk in memory).
//
// Choice of generator: a xorshift32 stream over the 32-bit words of each block, its state seeded
// from (key, block index) through a murmur3-style mix. Measured on the shared 2-core machine under
// load: ≈2–5 ms per 2 MiB block, against ≈9 ms for Node's AES-128-CTR keystream (per-call
// overhead and a 2 MiB output allocation dominate) and about the same for a precomputed buffer
// xored with a per-block word. Precomputed buffers were rejected anyway: a compressor with a
// window of 2 MiB or more (zstd) would find each block in the previous one. xorshift output has
// no repeats, so every block differs and `random` content is incompressible, like encrypted or
// compressed guest data. `text` content is four-byte pieces of English drawn by the same stream,
// 32 bits at a time (so as cheap): it compresses (gzip ≈2.8×) and still differs in every block.
// Bytes come from 32-bit words in the host's byte order (little-endian on every Node target here).
// block-store.ts imports this module: its VDI_BLOCK_BYTES (2 MiB) is repeated here, not imported.
const VDI_BLOCK_BYTES = 2 * 1024 * 1024

/** What generated blocks look like: incompressible noise or compressible text. */
export type ContentPattern = 'random' | 'text'

/** How to produce one generated block: its stream key, its index in the disk and its pattern. */
export interface BlockRecipe {
  /** 32-bit key of the stream (from a seed and what wrote the block); with `index` it fixes the bytes. */
  readonly key: number
  readonly index: number
  readonly pattern: ContentPattern
  /** Bytes produced from the start of the block; the rest are zeros (the disk ends inside it). */
  readonly validBytes: number
}

/** A 32-bit hash of integers (each a safe integer, both 32-bit halves mixed): stream keys and seeds. */
export function mix32(...values: readonly number[]): number {
  let h = 0x2f1c_5a3b
  for (const value of values) {
    for (const half of [value >>> 0, Math.floor(value / 0x1_0000_0000) >>> 0]) {
      h = Math.imul(h ^ half, 0xcc9e2d51)
      h = (h << 15) | (h >>> 17)
      h = Math.imul(h, 0x1b873593) >>> 0
    }
  }
  // murmur3's finaliser: every input bit reaches every output bit.
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** A deterministic generator of uniform floats in [0, 1) (mulberry32) from a 32-bit seed. */
export function uniformStream(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = Math.imul(state ^ (state >>> 15), state | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 0x1_0000_0000
  }
}

/**
 * Exactly `count` distinct indexes of `0..total-1`, ascending, chosen by `seed` (Knuth's selection
 * sampling: one pass, constant memory, each subset equally likely).
 */
export function selectBlocks(total: number, count: number, seed: number): number[] {
  if (!Number.isSafeInteger(total) || !Number.isSafeInteger(count) || count < 0 || count > total) {
    throw new RangeError(`cannot choose ${count} blocks out of ${total}`)
  }
  const random = uniformStream(seed)
  const chosen: number[] = []
  for (let i = 0; i < total && chosen.length < count; i++) {
    // When the blocks left equal the blocks needed the test always passes (random() < 1).
    if (random() * (total - i) < count - chosen.length) chosen.push(i)
  }
  return chosen
}

// 128 four-byte pieces of English-like text: `text` blocks are these pieces in random order, written
// as whole 32-bit words (7 bits of entropy per 4 bytes), so they cost no more than `random` ones.
const TEXT =
  'backup snapshot restore delta chain of blocks on the disk volume; the server writes a record to the ' +
  'index table for each query, user session and request; response error: retry after timeout. cache the ' +
  'buffer, stream and commit the merge of a replica archive on schedule with retention for job and task. ' +
  'report every metric value from config of the service daemon, kernel module and guest driver image now. ' +
  'the quick brown fox jumps over the lazy dog while logs rotate at midnight and disks fill up.\n'
const TOKENS = new Uint32Array(
  new Uint8Array(Buffer.from(TEXT.padEnd(512, ' ').slice(0, 512), 'latin1')).buffer,
)

/** Writes the bytes of `recipe` into `into` (at least one block long): generated, then zeros. */
export function fillBlock(recipe: BlockRecipe, into: Buffer): Buffer {
  const valid = Math.max(0, Math.min(recipe.validBytes, VDI_BLOCK_BYTES))
  // Whole 32-bit words through an aligned view (a last partial word spills into bytes zeroed below).
  const aligned = into.byteOffset % 4 === 0
  const target = aligned ? into : Buffer.allocUnsafe(VDI_BLOCK_BYTES)
  const words = new Uint32Array(target.buffer, target.byteOffset, Math.ceil(valid / 4))
  let state = mix32(recipe.key, recipe.index) || 0x9e3779b9 // xorshift32 never leaves 0
  if (recipe.pattern === 'text') {
    for (let i = 0; i < words.length; i++) {
      // One xorshift step gives four 7-bit token numbers.
      if ((i & 3) === 0) {
        state ^= state << 13
        state ^= state >>> 17
        state ^= state << 5
      }
      words[i] = TOKENS[(state >>> ((i & 3) * 7)) & 127] as number
    }
  } else {
    for (let i = 0; i < words.length; i++) {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      words[i] = state
    }
  }
  if (!aligned) target.copy(into, 0, 0, valid)
  into.fill(0, valid, VDI_BLOCK_BYTES)
  return into
}

/** What a generated stream is for: mixed into its key so that the streams never coincide. */
export const STREAM = {
  poolContent: 1,
  poolSelection: 2,
  guestContent: 3,
  guestSelection: 4,
  activity: 5,
  activitySelection: 6,
} as const
