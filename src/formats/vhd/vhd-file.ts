import { bitmapSizeBytes, fullBitmap, isAllocated } from './bat.ts'
import type { BlockLevel, RawBlock } from './block-content.ts'
import { readMergedBlock, readRange } from './block-content.ts'
import { DEFAULT_BLOCK_SIZE, DiskType, SECTOR_SIZE } from './constants.ts'
import type { VhdFooter } from './footer.ts'
import type { VhdHeader } from './header.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { VhdError, fail } from './vhd-error.ts'
import type { InspectOptions } from './vhd-inspect.ts'
import { inspectVhd } from './vhd-inspect.ts'

/** An open, validated VHD (fixed, dynamic or differencing) read through a RandomAccessFile. */
export class VhdFile implements BlockLevel {
  readonly file: RandomAccessFile
  readonly footer: VhdFooter
  /** Absent for a fixed disk; the in-place writer replaces it when it grows the BAT. */
  header: VhdHeader | undefined
  /** Sector offsets of each block; the in-place writer updates it. */
  bat: Uint32Array
  readonly blockSize: number

  private constructor(
    file: RandomAccessFile,
    footer: VhdFooter,
    header: VhdHeader | undefined,
    bat: Uint32Array,
  ) {
    this.file = file
    this.footer = footer
    this.header = header
    this.bat = bat
    this.blockSize = header?.blockSize ?? DEFAULT_BLOCK_SIZE
  }

  /** Opens and validates `file`; throws the first structural issue as a VhdError naming offset and field. */
  static async open(file: RandomAccessFile, options: InspectOptions = {}): Promise<VhdFile> {
    const { issues, structure } = await inspectVhd(file, options)
    const first = issues[0]
    if (first !== undefined) throw new VhdError(first)
    if (structure === undefined)
      return fail('VHD_INVALID', file.name, 0, 'file', 'a VHD', 'unreadable structures')
    return new VhdFile(file, structure.footer, structure.header, structure.bat)
  }

  /** Virtual size in bytes (footer `currentSize`). */
  get virtualSize(): number {
    return this.footer.currentSize
  }

  get diskType(): number {
    return this.footer.diskType
  }

  get uniqueId(): string {
    return this.footer.uniqueId
  }

  /** Number of blocks the disk can address (BAT entries, or virtual size / block size when fixed). */
  get blockCount(): number {
    return this.header === undefined ? Math.ceil(this.virtualSize / this.blockSize) : this.bat.length
  }

  /** Bytes of the sector bitmap in front of each block. */
  get bitmapSize(): number {
    return bitmapSizeBytes(this.blockSize)
  }

  /** True when block `index` is stored in this file (always for a fixed disk within its size). */
  hasBlock(index: number): boolean {
    if (this.header === undefined) return index >= 0 && index < this.blockCount
    return isAllocated(this.bat[index])
  }

  /** Indexes of the blocks stored in this file, ascending. */
  blockIndexes(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.blockCount; i++) if (this.hasBlock(i)) out.push(i)
    return out
  }

  /** File offset of block `index`'s bitmap; undefined when the block is not stored. */
  blockOffset(index: number): number | undefined {
    const entry = this.bat[index]
    return isAllocated(entry) ? entry * SECTOR_SIZE : undefined
  }

  /**
   * Reads a stored block's bitmap and full data (into `scratch` when given and the file can, so the
   * result views it); throws VHD_BAD_ARGUMENT for a block that is not stored.
   */
  async readBlock(index: number, scratch?: Uint8Array): Promise<RawBlock> {
    if (this.header === undefined) return this.#readFixedBlock(index)
    const offset = this.blockOffset(index)
    if (offset === undefined)
      return fail('VHD_BAD_ARGUMENT', this.file.name, 0, 'block', 'a stored block', index)
    const length = this.bitmapSize + this.blockSize
    const bytes = await this.#readBytes(offset, length, scratch)
    if (bytes.length < length) {
      return fail('VHD_TRUNCATED', this.file.name, offset, `block ${index}`, `${length} bytes`, bytes.length)
    }
    return { bitmap: bytes.subarray(0, this.bitmapSize), data: bytes.subarray(this.bitmapSize) }
  }

  async #readBytes(offset: number, length: number, scratch: Uint8Array | undefined): Promise<Uint8Array> {
    if (scratch === undefined || scratch.length < length || this.file.readInto === undefined) {
      return this.file.read(offset, length)
    }
    const target = scratch.subarray(0, length)
    return target.subarray(0, await this.file.readInto(offset, target))
  }

  async #readFixedBlock(index: number): Promise<RawBlock> {
    const start = index * this.blockSize
    const length = Math.max(0, Math.min(this.blockSize, this.virtualSize - start))
    const bytes = await this.file.read(start, length)
    const data = new Uint8Array(this.blockSize)
    data.set(bytes)
    return { bitmap: fullBitmap(this.blockSize), data }
  }

  /** Reads this file's own content (no parent: sectors a differencing disk does not hold read as zero). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    return readRange(
      this.blockSize,
      async (index) => (this.hasBlock(index) ? (await readMergedBlock([this], index)).data : undefined),
      offset,
      length,
    )
  }

  /** Closes the underlying file when it can be closed. */
  async close(): Promise<void> {
    await this.file.close?.()
  }

  /** True for a differencing disk. */
  get isDifferencing(): boolean {
    return this.footer.diskType === DiskType.differencing
  }
}
