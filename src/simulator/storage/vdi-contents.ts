import type { BlockRecipe } from './block-content.ts'
import type { BlockStore } from './block-store.ts'
import { VDI_BLOCK_BYTES } from './block-store.ts'

/** Told whenever a handle starts or stops holding a slot (the SRs' space accounting). */
export interface SlotObserver {
  gained(handle: string, slot: number): void
  lost(handle: string, slot: number): void
}

/**
 * The contents of every VDI by content handle (`SimulatorDb.contentHandle`): block index → slot
 * of the BlockStore. A snapshot or clone starts as a copy of its origin's map (copy-on-write: the
 * slots are shared), a write always puts the new block in a fresh slot, so two VDIs of one tree
 * differ exactly on the blocks whose slots differ. Unlisted blocks read as zeros.
 */
export class VdiContents {
  private readonly maps = new Map<string, Map<number, number>>()
  private readonly store: BlockStore
  private readonly observer: SlotObserver | undefined

  constructor(store: BlockStore, observer?: SlotObserver) {
    this.store = store
    this.observer = observer
  }

  /** Gives `handle` empty contents, or a copy-on-write copy of `origin`'s (replacing what it held). */
  bind(handle: string, origin?: string): void {
    const source = origin === undefined ? undefined : this.maps.get(origin)
    const next = new Map(source ?? [])
    for (const slot of next.values()) this.store.retain(slot)
    this.release(handle)
    this.maps.set(handle, next)
    for (const slot of next.values()) this.observer?.gained(handle, slot)
  }

  /** Drops `handle`'s contents (its slots are freed once nothing else shares them). */
  release(handle: string): void {
    const map = this.maps.get(handle)
    if (map === undefined) return
    for (const slot of map.values()) {
      this.store.release(slot)
      this.observer?.lost(handle, slot)
    }
    this.maps.delete(handle)
  }

  /** True when `handle` has contents here. */
  has(handle: string): boolean {
    return this.maps.has(handle)
  }

  /** True when block `index` of `handle` holds a slot. */
  isAllocated(handle: string, index: number): boolean {
    return this.map(handle).has(index)
  }

  /** The allocated block indexes of `handle`, ascending. */
  blockIndexes(handle: string): number[] {
    return [...this.map(handle).keys()].sort((a, b) => a - b)
  }

  /** Block indexes whose content may differ between the two handles (different or absent slots), ascending. */
  changedBlocks(handle: string, base: string): number[] {
    const target = this.map(handle)
    const from = this.map(base)
    const changed = new Set<number>()
    for (const [index, slot] of target) if (from.get(index) !== slot) changed.add(index)
    for (const index of from.keys()) if (!target.has(index)) changed.add(index)
    return [...changed].sort((a, b) => a - b)
  }

  /** The 2 MiB content of block `index` (zeros when unallocated), in `into` when given. */
  readBlock(handle: string, index: number, into?: Buffer): Buffer {
    const slot = this.map(handle).get(index)
    if (slot !== undefined) return this.store.read(slot, into)
    const zeros = into ?? Buffer.allocUnsafe(VDI_BLOCK_BYTES)
    return zeros.fill(0)
  }

  /** Like readBlock, without blocking the event loop; always a new buffer. */
  async readBlockAsync(handle: string, index: number): Promise<Buffer> {
    const slot = this.map(handle).get(index)
    return slot === undefined ? Buffer.alloc(VDI_BLOCK_BYTES) : this.store.readAsync(slot)
  }

  /** Writes `data` at byte `offsetBytes` (read-modify-write of the 2 MiB blocks it touches). */
  write(handle: string, offsetBytes: number, data: Uint8Array): void {
    const map = this.map(handle)
    let done = 0
    while (done < data.byteLength) {
      const position = offsetBytes + done
      const index = Math.floor(position / VDI_BLOCK_BYTES)
      const within = position - index * VDI_BLOCK_BYTES
      const length = Math.min(VDI_BLOCK_BYTES - within, data.byteLength - done)
      const piece = data.subarray(done, done + length)
      const block = length === VDI_BLOCK_BYTES ? piece : this.readBlock(handle, index)
      if (block !== piece) block.set(piece, within)
      this.replace(handle, map, index, this.store.allocate(block))
      done += length
    }
  }

  /** Replaces block `index` of `handle` by a generated one (a fresh slot, like any write). */
  writeGenerated(handle: string, index: number, recipe: BlockRecipe): void {
    this.replace(handle, this.map(handle), index, this.store.allocateGenerated(recipe))
  }

  /** The slot of block `index` of `handle` (undefined when unallocated): equal slots hold equal bytes. */
  slotOf(handle: string, index: number): number | undefined {
    return this.map(handle).get(index)
  }

  /** Bytes held by `handle`: its allocated blocks × 2 MiB (the simulator's `physical_utilisation`). */
  allocatedBytes(handle: string): number {
    return this.map(handle).size * VDI_BLOCK_BYTES
  }

  private replace(handle: string, map: Map<number, number>, index: number, slot: number): void {
    const old = map.get(index)
    map.set(index, slot)
    this.observer?.gained(handle, slot)
    if (old === undefined) return
    this.store.release(old)
    this.observer?.lost(handle, old)
  }

  private map(handle: string): Map<number, number> {
    const map = this.maps.get(handle)
    if (map === undefined) throw new RangeError(`no VDI contents for handle ${handle}`)
    return map
  }
}
