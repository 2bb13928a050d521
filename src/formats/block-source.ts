/** One block of a disk: `index` counts blocks of `blockSize` bytes from offset 0; `data` is the block's bytes (the last block may be shorter). */
export interface DiskBlock {
  readonly index: number
  readonly data: Uint8Array
}

/**
 * The common currency between XAPI exports, VHD readers and writers, XVA and the simulator
 * (architecture.md §5): a disk of `virtualSize` bytes whose non-empty blocks are listed in
 * `blockIndexes` (in the order `blocks()` yields them; a missing block reads as zeros, or as the
 * parent's content for a delta), so a writer knows its output size before the first byte.
 */
export interface BlockSource {
  readonly virtualSize: number
  readonly blockSize: number
  readonly blockIndexes: readonly number[]
  blocks(): AsyncIterable<DiskBlock>
}
