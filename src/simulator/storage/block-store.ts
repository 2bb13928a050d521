import { closeSync, mkdtempSync, openSync, read, readSync, rmSync, writeSync } from 'node:fs'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BlockRecipe } from './block-content.ts'
import { fillBlock } from './block-content.ts'

/** Size of a VDI block: the unit of copy-on-write sharing and of deltas (VHD's 2 MiB blocks, xapi.md §5.1). */
export const VDI_BLOCK_BYTES = 2 * 1024 * 1024

/**
 * Immutable 2 MiB blocks stored in slots of one sparse file (`blocks.bin`) under a data directory:
 * a slot is written once, shared by reference count, and reused once no VDI holds it. Disk space
 * is what was written, never a VDI's virtual size. I/O is synchronous: VDI.snapshot/clone/destroy
 * only move references, and readers ask for one block at a time. A generated slot holds a recipe
 * (seeded content, block-content.ts) until its first read produces the bytes and writes them to its
 * place in the file: a pool's content costs nothing until it is read, and later reads are file
 * reads (from the page cache: measured up to twice as fast as producing the bytes again).
 */
export class BlockStore {
  private readonly fd: number
  private readonly ownedDir: string | undefined
  private readonly refcounts: number[] = []
  private readonly free: number[] = []
  private readonly pending = new Map<number, BlockRecipe>()
  private closed = false

  /** Opens (truncating) `blocks.bin` in `dataDir`, or in a fresh temp directory removed by `close`. */
  constructor(dataDir?: string) {
    this.ownedDir = dataDir === undefined ? mkdtempSync(join(tmpdir(), 'xapi-sim-')) : undefined
    this.fd = openSync(join(dataDir ?? (this.ownedDir as string), 'blocks.bin'), 'w+')
  }

  /** Stores `data` (at most one block; shorter is zero-padded on read) in a new slot held once; returns the slot. */
  allocate(data: Uint8Array): number {
    if (data.byteLength > VDI_BLOCK_BYTES) throw new RangeError(`block of ${data.byteLength} bytes`)
    const slot = this.free.pop() ?? this.refcounts.length
    this.refcounts[slot] = 1
    // A reused slot may hold an older block's bytes past `data`: write the whole block.
    const whole = data.byteLength === VDI_BLOCK_BYTES ? data : padded(data)
    writeFully(this.fd, whole, slot * VDI_BLOCK_BYTES)
    return slot
  }

  /** A new slot held once whose bytes are `recipe`'s, produced and written on first read; returns the slot. */
  allocateGenerated(recipe: BlockRecipe): number {
    const slot = this.free.pop() ?? this.refcounts.length
    this.refcounts[slot] = 1
    this.pending.set(slot, recipe)
    return slot
  }

  /** Generated slots whose bytes were not produced yet. */
  get pendingSlots(): number {
    return this.pending.size
  }

  /** Produces and writes every generated slot's bytes now (benchmark setup: later reads are file reads). */
  materialize(): void {
    const into = Buffer.allocUnsafe(VDI_BLOCK_BYTES)
    for (const slot of [...this.pending.keys()]) this.produce(slot, into)
  }

  /** One more holder of `slot`. */
  retain(slot: number): void {
    this.refcounts[slot] = (this.refcounts[slot] ?? 0) + 1
  }

  /** One holder fewer; the slot is reused once none is left. */
  release(slot: number): void {
    const count = (this.refcounts[slot] ?? 0) - 1
    this.refcounts[slot] = count
    if (count === 0) {
      this.pending.delete(slot)
      this.free.push(slot)
    }
  }

  /** The 2 MiB content of `slot`, in `into` when given (reused buffer) else a new one. */
  read(slot: number, into: Buffer = Buffer.allocUnsafe(VDI_BLOCK_BYTES)): Buffer {
    if (this.pending.has(slot)) return this.produce(slot, into)
    let done = 0
    while (done < VDI_BLOCK_BYTES) {
      const n = readSync(this.fd, into, done, VDI_BLOCK_BYTES - done, slot * VDI_BLOCK_BYTES + done)
      if (n === 0) {
        into.fill(0, done)
        break
      }
      done += n
    }
    return into
  }

  /** The 2 MiB content of `slot` in a new buffer, read without blocking the event loop (streaming exports). */
  async readAsync(slot: number): Promise<Buffer> {
    const into = Buffer.allocUnsafe(VDI_BLOCK_BYTES)
    // Generating is a few milliseconds of CPU per block, like a synchronous read of the file.
    if (this.pending.has(slot)) return this.produce(slot, into)
    let done = 0
    while (done < VDI_BLOCK_BYTES) {
      const { bytesRead } = await readAsync(
        this.fd,
        into,
        done,
        VDI_BLOCK_BYTES - done,
        slot * VDI_BLOCK_BYTES + done,
      )
      if (bytesRead === 0) return into.fill(0, done)
      done += bytesRead
    }
    return into
  }

  /** Slots currently held by at least one VDI. */
  get liveSlots(): number {
    return this.refcounts.filter((count) => count > 0).length
  }

  private produce(slot: number, into: Buffer): Buffer {
    const recipe = this.pending.get(slot) as BlockRecipe
    fillBlock(recipe, into)
    writeFully(this.fd, into.subarray(0, VDI_BLOCK_BYTES), slot * VDI_BLOCK_BYTES)
    this.pending.delete(slot)
    return into
  }

  /** Closes the file and removes the temp directory if this store made it. */
  close(): void {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
    if (this.ownedDir !== undefined) rmSync(this.ownedDir, { recursive: true, force: true })
  }
}

const readAsync = promisify(read)

function padded(data: Uint8Array): Buffer {
  const block = Buffer.alloc(VDI_BLOCK_BYTES)
  block.set(data)
  return block
}

function writeFully(fd: number, data: Uint8Array, position: number): void {
  let done = 0
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, position + done)
}
