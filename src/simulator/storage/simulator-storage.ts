import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { BlockSource, DiskBlock } from '../../formats/block-source.ts'
import type { SimulatorDb } from '../db.ts'
import type { DiskContent } from '../pool/description.ts'
import type { ContentPattern } from './block-content.ts'
import { STREAM, mix32, selectBlocks } from './block-content.ts'
import { BlockStore, VDI_BLOCK_BYTES } from './block-store.ts'
import { CbtLogs } from './cbt-logs.ts'
import { SrUsage } from './sr-usage.ts'
import { VdiContents } from './vdi-contents.ts'
import { XapiFault } from '../xapi-fault.ts'

// SM types that allocate a VDI's whole size when it is created (LVM-based, "thick").
const THICK_SR_TYPES: ReadonlySet<string> = new Set(['lvm', 'lvmoiscsi', 'lvmohba', 'lvmofcoe'])

/** SM's "no space" error as XAPI surfaces it (xapi.md §2.5: SR_BACKEND_FAILURE_44). */
export function insufficientSpace(): XapiFault {
  return new XapiFault('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', ''])
}

/** A guest write for tests: `data` at byte `offsetBytes` of the disk. */
export interface VdiWrite {
  readonly offsetBytes: number
  readonly data: Uint8Array
}

/** Which blocks a VDI's block source lists. */
export interface VdiSourceOptions {
  /** Only the blocks that differ from this VDI (a snapshot of the same tree): a delta. */
  readonly base?: string
  /** Every block of the disk, unallocated ones as zeros (raw exports). */
  readonly everyBlock?: boolean
}

/**
 * The simulator's VDI data: contents by copy-on-write 2 MiB blocks in a sparse file under the data
 * directory, CBT logs, and the hooks that keep them in step with the object database
 * (VDI.create/snapshot/clone/copy/destroy all go through `SimulatorDb.setContentHandle`/`destroy`).
 */
export class SimulatorStorage {
  /** The CBT logs, by VDI ref. */
  readonly cbt = new CbtLogs()
  private readonly store: BlockStore
  private readonly contents: VdiContents
  private readonly db: SimulatorDb
  private readonly vdiOfHandle = new Map<string, string>()
  private readonly srOfHandle = new Map<string, string>()
  private readonly usage = new SrUsage()

  /** Stores blocks under `dataDir` (a temp directory when absent) and listens to `db`'s VDI contents. */
  constructor(db: SimulatorDb, dataDir?: string) {
    this.db = db
    this.store = new BlockStore(dataDir)
    this.contents = new VdiContents(this.store, {
      gained: (handle, slot) => {
        const sr = this.srOfHandle.get(handle)
        if (sr !== undefined) this.usage.add(sr, slot)
      },
      lost: (handle, slot) => {
        const sr = this.srOfHandle.get(handle)
        if (sr !== undefined) this.usage.remove(sr, slot)
      },
    })
    db.setContentListener({
      bound: (vdi, handle, origin) => {
        this.bound(vdi, handle, origin)
      },
      released: (vdi, handle) => {
        this.contents.release(handle)
        this.vdiOfHandle.delete(handle)
        const sr = this.srOfHandle.get(handle)
        this.srOfHandle.delete(handle)
        this.cbt.forget(vdi)
        if (sr !== undefined) this.refreshSr(sr)
      },
    })
  }

  /** Writes like a guest would (tests): contents, CBT log and `physical_utilisation` follow. */
  writeBlocks(vdi: string, writes: readonly VdiWrite[]): void {
    for (const { offsetBytes, data } of writes) this.write(vdi, offsetBytes, data)
    this.refreshUtilisation(vdi)
  }

  /** Writes `data` at `offsetBytes` of `vdi` (guest or import), recording it in the CBT log; never limited by space. */
  write(vdi: string, offsetBytes: number, data: Uint8Array): void {
    const size = this.db.get('VDI', vdi).virtual_size as number
    if (offsetBytes < 0 || offsetBytes + data.byteLength > size) {
      throw new RangeError(`write of ${data.byteLength} bytes at ${offsetBytes} beyond VDI size ${size}`)
    }
    this.contents.write(this.handle(vdi), offsetBytes, data)
    this.cbt.recordWrite(vdi, offsetBytes, data.byteLength)
  }

  /**
   * Writes like `write` for the data handlers (imports): a write whose new blocks would push its
   * SR's `physical_utilisation` over a non-zero `physical_size` (read live) fails
   * SR_BACKEND_FAILURE_44 and writes nothing.
   */
  writeWithinSr(vdi: string, offsetBytes: number, data: Uint8Array): void {
    const sr = this.db.get('VDI', vdi).SR as string
    const size = this.db.find('SR', sr)?.physical_size as number | undefined
    if (size !== undefined && size > 0 && data.byteLength > 0) {
      const handle = this.handle(vdi)
      const first = Math.floor(offsetBytes / VDI_BLOCK_BYTES)
      const last = Math.floor((offsetBytes + data.byteLength - 1) / VDI_BLOCK_BYTES)
      let growth = 0
      for (let index = first; index <= last; index++) {
        // A write always takes a fresh slot; the one it replaces is freed only if nothing else on the SR holds it.
        const old = this.contents.slotOf(handle, index)
        growth += old !== undefined && this.usage.holdersOf(sr, old) === 1 ? 0 : 1
      }
      if (this.usage.bytes(sr) + growth * VDI_BLOCK_BYTES > size) throw insufficientSpace()
    }
    this.write(vdi, offsetBytes, data)
  }

  /**
   * VDI.create's space check (xapi.md §2.5): on a thick SR (LVM-based) with a non-zero
   * `physical_size`, VDIs of `virtualSizes` bytes must fit in its free space, else
   * SR_BACKEND_FAILURE_44; thin SRs (ext, nfs, …) allocate on write and accept any size.
   */
  assertRoomForNewVdis(sr: string, virtualSizes: readonly number[]): void {
    const record = this.db.get('SR', sr)
    const size = record.physical_size as number
    if (!THICK_SR_TYPES.has(record.type as string) || size <= 0) return
    const wanted = virtualSizes.reduce((sum, bytes) => sum + bytes, 0)
    if (wanted > size - this.usage.bytes(sr)) throw insufficientSpace()
  }

  /**
   * The space check of full copies (VDI.copy, VM.copy): the blocks of `vdis` that their target SR
   * (`targetSr`, else each VDI's own) does not hold yet must fit in it, and on a thick SR their
   * whole sizes too; SR_BACKEND_FAILURE_44 otherwise.
   */
  assertRoomForCopies(vdis: readonly string[], targetSr: string | undefined): void {
    const bySr = new Map<string, string[]>()
    for (const vdi of vdis) {
      const sr = targetSr ?? (this.db.get('VDI', vdi).SR as string)
      bySr.set(sr, [...(bySr.get(sr) ?? []), vdi])
    }
    for (const [sr, group] of bySr) {
      this.assertRoomForNewVdis(
        sr,
        group.map((vdi) => this.db.get('VDI', vdi).virtual_size as number),
      )
      const size = this.db.get('SR', sr).physical_size as number
      if (size <= 0) continue
      const added = new Set<number>()
      for (const vdi of group) {
        const handle = this.handle(vdi)
        for (const index of this.contents.blockIndexes(handle)) {
          const slot = this.contents.slotOf(handle, index)
          if (slot !== undefined && this.usage.holdersOf(sr, slot) === 0) added.add(slot)
        }
      }
      if (this.usage.bytes(sr) + added.size * VDI_BLOCK_BYTES > size) throw insufficientSpace()
    }
  }

  /** Bytes the blocks of `sr`'s VDIs hold (distinct slots × 2 MiB), live. */
  srUsedBytes(sr: string): number {
    return this.usage.bytes(sr)
  }

  /**
   * Sets `SR.physical_utilisation` (its VDIs' distinct blocks) and `virtual_allocation` (the sum
   * of their virtual sizes) when they changed.
   */
  refreshSr(sr: string): void {
    const record = this.db.find('SR', sr)
    if (record === undefined) return
    const physical = this.usage.bytes(sr)
    let virtual = 0
    for (const [, vdi] of this.db.all('VDI')) if (vdi.SR === sr) virtual += vdi.virtual_size as number
    if (record.physical_utilisation !== physical || record.virtual_allocation !== virtual)
      this.db.update('SR', sr, { physical_utilisation: physical, virtual_allocation: virtual })
  }

  /**
   * Gives `vdi` its described content (pool build): exactly round(allocatedFraction × blocks)
   * blocks chosen by the seed hold seeded bytes, produced when first read. Not a guest write: no
   * CBT record. Returns the allocated block indexes, ascending.
   */
  fillContent(vdi: string, content: DiskContent): number[] {
    const size = this.db.get('VDI', vdi).virtual_size as number
    const total = Math.ceil(size / VDI_BLOCK_BYTES)
    const indexes = selectBlocks(
      total,
      Math.round(content.allocatedFraction * total),
      mix32(STREAM.poolSelection, content.seed),
    )
    const key = mix32(STREAM.poolContent, content.seed)
    this.putGenerated(vdi, indexes, key, content.pattern ?? 'random', false)
    return indexes
  }

  /**
   * Rewrites whole blocks `indexes` of `vdi` with the bytes of stream `key` like a guest would
   * (fresh slots: snapshots keep theirs); the CBT log and `physical_utilisation` follow.
   */
  writeGenerated(vdi: string, indexes: readonly number[], key: number, pattern: ContentPattern): void {
    this.putGenerated(vdi, indexes, key, pattern, true)
  }

  /** True when block `index` (2 MiB) of `vdi` was ever written. */
  isAllocated(vdi: string, index: number): boolean {
    return this.contents.isAllocated(this.handle(vdi), index)
  }

  /** Sets `physical_utilisation` to the bytes `vdi` holds (after a batch of writes), and its SR's (see refreshSr). */
  refreshUtilisation(vdi: string): void {
    const record = this.db.update('VDI', vdi, {
      physical_utilisation: this.contents.allocatedBytes(this.handle(vdi)),
    })
    this.refreshSr(record.SR as string)
  }

  /** The whole content of a (small) VDI, for tests. */
  readAll(vdi: string): Buffer {
    const size = this.db.get('VDI', vdi).virtual_size as number
    const out = Buffer.alloc(size)
    const handle = this.handle(vdi)
    for (const index of this.contents.blockIndexes(handle)) {
      const block = this.contents.readBlock(handle, index)
      block.copy(out, index * VDI_BLOCK_BYTES, 0, Math.min(VDI_BLOCK_BYTES, size - index * VDI_BLOCK_BYTES))
    }
    return out
  }

  /** The whole content of `vdi` (`virtual_size` bytes, holes as zeros) as a stream read block by block. */
  rawStream(vdi: string): Readable {
    const source = this.source(vdi, { everyBlock: true })
    return Readable.from(
      (async function* () {
        for await (const block of source.blocks()) yield block.data
      })(),
      { objectMode: false },
    )
  }

  /** The hex digest (`sha256` unless named) of `vdi`'s whole content, as `rawStream` gives it. */
  async digest(vdi: string, algorithm = 'sha256'): Promise<string> {
    const hash = createHash(algorithm)
    for await (const chunk of this.rawStream(vdi)) hash.update(chunk as Buffer)
    return hash.digest('hex')
  }

  /**
   * The first byte offset where the contents of `a` and `b` differ (a size difference counts at
   * the smaller size), or undefined when they are equal. Shared or unallocated blocks are not read.
   */
  firstDifference(a: string, b: string): number | undefined {
    const [sizeA, sizeB] = [a, b].map((vdi) => this.db.get('VDI', vdi).virtual_size as number) as [
      number,
      number,
    ]
    const size = Math.min(sizeA, sizeB)
    const [handleA, handleB] = [this.handle(a), this.handle(b)]
    const [bufferA, bufferB] = [Buffer.allocUnsafe(VDI_BLOCK_BYTES), Buffer.allocUnsafe(VDI_BLOCK_BYTES)]
    for (let index = 0; index * VDI_BLOCK_BYTES < size; index++) {
      const slot = this.contents.slotOf(handleA, index)
      if (slot === this.contents.slotOf(handleB, index)) continue
      const length = Math.min(VDI_BLOCK_BYTES, size - index * VDI_BLOCK_BYTES)
      const blockA = this.contents.readBlock(handleA, index, bufferA).subarray(0, length)
      const blockB = this.contents.readBlock(handleB, index, bufferB).subarray(0, length)
      if (blockA.equals(blockB)) continue
      let at = 0
      while (blockA[at] === blockB[at]) at++
      return index * VDI_BLOCK_BYTES + at
    }
    return sizeA === sizeB ? undefined : size
  }

  /** Produces every generated block now, so that later reads cost a file read (benchmark setup). */
  materialize(): void {
    this.store.materialize()
  }

  /** Drops the data of `vdi` (VDI.data_destroy); the record and its CBT log stay. */
  dropData(vdi: string): void {
    this.contents.bind(this.handle(vdi))
    this.refreshUtilisation(vdi)
  }

  /** The indexes of the 2 MiB blocks that differ between `vdi` and `base`. */
  changedBlocks(vdi: string, base: string): number[] {
    return this.contents.changedBlocks(this.handle(vdi), this.handle(base))
  }

  /**
   * `vdi` as a block source of 2 MiB blocks, read lazily one at a time (the last one short when
   * the size is not a multiple): its allocated blocks, the blocks differing from `base`, or every block.
   */
  source(vdi: string, options: VdiSourceOptions = {}): BlockSource {
    const virtualSize = this.db.get('VDI', vdi).virtual_size as number
    const handle = this.handle(vdi)
    const count = Math.ceil(virtualSize / VDI_BLOCK_BYTES)
    const indexes =
      options.everyBlock === true
        ? Array.from({ length: count }, (_, i) => i)
        : options.base !== undefined
          ? this.contents.changedBlocks(handle, this.handle(options.base))
          : this.contents.blockIndexes(handle)
    const blockIndexes = indexes.filter((index) => index < count)
    const contents = this.contents
    async function* blocks(): AsyncGenerator<DiskBlock> {
      for (const index of blockIndexes) {
        // A fresh buffer per block: consumers (sockets, tar writers) may still hold the previous one.
        const data = await contents.readBlockAsync(handle, index)
        yield {
          index,
          data: data.subarray(0, Math.min(VDI_BLOCK_BYTES, virtualSize - index * VDI_BLOCK_BYTES)),
        }
      }
    }
    return { virtualSize, blockSize: VDI_BLOCK_BYTES, blockIndexes, blocks }
  }

  /** Slots of 2 MiB held on disk (shared blocks count once). */
  get storedBlocks(): number {
    return this.store.liveSlots
  }

  /** Closes the block file (and removes the temp directory). */
  close(): void {
    this.store.close()
  }

  private putGenerated(
    vdi: string,
    indexes: readonly number[],
    key: number,
    pattern: ContentPattern,
    guest: boolean,
  ): void {
    const size = this.db.get('VDI', vdi).virtual_size as number
    const handle = this.handle(vdi)
    // Every index is checked before the first write: a bad list writes nothing.
    const bad = indexes.find((i) => !Number.isSafeInteger(i) || i < 0 || i * VDI_BLOCK_BYTES >= size)
    if (bad !== undefined) throw new RangeError(`block ${bad} is not in VDI ${vdi} of ${size} bytes`)
    for (const index of indexes) {
      const offset = index * VDI_BLOCK_BYTES
      const validBytes = Math.min(VDI_BLOCK_BYTES, size - offset)
      this.contents.writeGenerated(handle, index, { key, index, pattern, validBytes })
      if (guest) this.cbt.recordWrite(vdi, offset, validBytes)
    }
    this.refreshUtilisation(vdi)
  }

  private bound(vdi: string, handle: string, origin: string | undefined): void {
    const record = this.db.get('VDI', vdi)
    this.srOfHandle.set(handle, record.SR as string)
    this.contents.bind(handle, origin)
    this.vdiOfHandle.set(handle, vdi)
    this.refreshSr(record.SR as string)
    const source = origin === undefined ? undefined : this.vdiOfHandle.get(origin)
    // SM hands the live CBT log to a snapshot (xapi.md §6.1); clones and copies start without CBT.
    if (source !== undefined && record.is_a_snapshot === true && record.snapshot_of === source)
      this.cbt.snapshot(source, vdi)
  }

  private handle(vdi: string): string {
    const handle = this.db.contentHandle(vdi)
    if (handle === undefined || !this.contents.has(handle)) throw new RangeError(`VDI ${vdi} has no contents`)
    return handle
  }
}
