import { isAllZero } from '../../shared/bytes.ts'
import type { BlockSource } from '../block-source.ts'

/** XVA disks are cut into 1 MiB chunks named `Ref:<n>/<8 digits>` (xapi.md §4). */
export const XVA_CHUNK_BYTES = 1024 * 1024

/** A chunk of a disk: index in 1 MiB units and its bytes (the last chunk may be shorter). */
export interface DiskChunk {
  readonly index: number
  readonly data: Uint8Array
}

/**
 * Re-cuts a block source of any block size into the chunks an XVA carries: all-zero chunks are
 * left out except chunk 0 and the last one, which XAPI's importer needs to find disk boundaries;
 * chunks come in increasing order. Memory: one chunk being assembled. Blocks must arrive in
 * increasing index order (a RangeError says otherwise).
 */
export async function* xvaChunks(source: BlockSource): AsyncGenerator<DiskChunk> {
  const { virtualSize, blockSize } = source
  if (virtualSize === 0) return
  const lastIndex = Math.ceil(virtualSize / XVA_CHUNK_BYTES) - 1
  const lengthOf = (index: number): number => Math.min(XVA_CHUNK_BYTES, virtualSize - index * XVA_CHUNK_BYTES)
  let current: { index: number; data: Uint8Array } | undefined
  let emitted = -1 // highest chunk index yielded so far
  function* emit(chunk: DiskChunk): Generator<DiskChunk> {
    if (emitted < 0 && chunk.index > 0) yield { index: 0, data: new Uint8Array(lengthOf(0)) }
    yield chunk
    emitted = chunk.index
  }
  function* finish(chunk: DiskChunk): Generator<DiskChunk> {
    if (chunk.index === 0 || chunk.index === lastIndex || !isAllZero(chunk.data)) yield* emit(chunk)
  }
  let previousBlock = -1
  for await (const block of source.blocks()) {
    if (block.index <= previousBlock)
      throw new RangeError(`blocks must come in increasing order: ${block.index} after ${previousBlock}`)
    previousBlock = block.index
    let offset = block.index * blockSize
    const end = Math.min(offset + block.data.byteLength, virtualSize)
    while (offset < end) {
      const index = Math.floor(offset / XVA_CHUNK_BYTES)
      if (current?.index !== index) {
        if (current !== undefined) yield* finish(current)
        current = { index, data: new Uint8Array(lengthOf(index)) }
      }
      const within = offset - index * XVA_CHUNK_BYTES
      const take = Math.min(end - offset, current.data.byteLength - within)
      const from = offset - block.index * blockSize
      current.data.set(block.data.subarray(from, from + take), within)
      offset += take
    }
  }
  if (current !== undefined) yield* finish(current)
  if (emitted < lastIndex) yield* emit({ index: lastIndex, data: new Uint8Array(lengthOf(lastIndex)) })
}
