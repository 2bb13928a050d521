import { batSizeBytes, encodeBatEntry, isAllocated } from './bat.ts'
import { FOOTER_SIZE, SECTOR_SIZE, UNUSED_BAT_ENTRY } from './constants.ts'
import type { VhdFooter } from './footer.ts'
import { encodeFooter } from './footer.ts'
import type { VhdHeader } from './header.ts'
import { encodeHeader, locatorSpaceBytes } from './header.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { fail } from './vhd-error.ts'
import type { VhdFile } from './vhd-file.ts'

/**
 * Writes blocks into an open dynamic/differencing VHD in place. Every step leaves a valid file:
 * a new block is appended where the EOF footer was, after a new footer has been written past it,
 * and only then does its BAT entry point at it; an existing block is rewritten data first, bitmap last.
 */
export class VhdInPlaceWriter {
  readonly disk: VhdFile
  readonly #file: RandomAccessFile & { write(offset: number, data: Uint8Array): Promise<void> }
  #header: VhdHeader
  #footerOffset: number

  private constructor(disk: VhdFile, header: VhdHeader, footerOffset: number) {
    const file = disk.file
    if (file.write === undefined)
      fail('VHD_BAD_ARGUMENT', file.name, 0, 'file', 'a writable file', 'read-only')
    this.disk = disk
    this.#file = file as RandomAccessFile & { write(offset: number, data: Uint8Array): Promise<void> }
    this.#header = header
    this.#footerOffset = footerOffset
  }

  /** A writer for `disk` (opened on a writable file); fixed disks are refused with VHD_UNSUPPORTED. */
  static async open(disk: VhdFile): Promise<VhdInPlaceWriter> {
    const header = disk.header
    if (header === undefined)
      return fail(
        'VHD_UNSUPPORTED',
        disk.file.name,
        60,
        'footer.diskType',
        'a dynamic or differencing disk to write into',
        'fixed',
      )
    return new VhdInPlaceWriter(disk, header, (await disk.file.size()) - FOOTER_SIZE)
  }

  get header(): VhdHeader {
    return this.#header
  }

  /** Writes block `index` (bitmap + full data): in place when stored, else appended. */
  async writeBlock(index: number, bitmap: Uint8Array, data: Uint8Array): Promise<void> {
    const offset = this.disk.blockOffset(index)
    if (offset !== undefined) {
      // Data before bitmap: a crash in between leaves the old bitmap over sectors whose content is
      // either the old or the merged one, and a rerun of the merge overlays them again.
      await this.#file.write(offset + bitmap.length, data)
      await this.#file.write(offset, bitmap)
      return
    }
    await this.#append(index, bitmap, data)
  }

  async #append(index: number, bitmap: Uint8Array, data: Uint8Array): Promise<void> {
    const offset = this.#footerOffset
    const end = offset + bitmap.length + data.length
    // The new EOF footer lands first, then the block over the old one: if the block write is torn
    // the file still ends with a valid footer, and the BAT does not point at the block yet.
    await this.#file.write(end, encodeFooter(this.disk.footer))
    const bytes = new Uint8Array(bitmap.length + data.length)
    bytes.set(bitmap)
    bytes.set(data, bitmap.length)
    await this.#file.write(offset, bytes)
    this.#footerOffset = end
    await this.#setBatEntry(index, offset / SECTOR_SIZE)
  }

  async #setBatEntry(index: number, entry: number): Promise<void> {
    await this.#file.write(this.#header.tableOffset + index * 4, encodeBatEntry(entry))
    this.disk.bat[index] = entry
  }

  /**
   * Makes the BAT hold `entries` entries. When its padded area must grow, the blocks in the way
   * are first copied to the end (each copy then its BAT entry), the new entries are written as
   * unused, and the header's `maxTableEntries` is written last, so a rerun redoes only what is missing.
   */
  async ensureBatSize(entries: number): Promise<void> {
    const header = this.#header
    if (header.maxTableEntries >= entries) return
    const batEnd = header.tableOffset + batSizeBytes(entries)
    this.#checkLocators(batEnd)
    const blockBytes = this.disk.bitmapSize + this.disk.blockSize
    const inTheWay = [...this.disk.bat.keys()]
      .filter((i) => isAllocated(this.disk.bat[i]) && (this.disk.bat[i] ?? 0) * SECTOR_SIZE < batEnd)
      .sort((a, b) => (this.disk.bat[a] ?? 0) - (this.disk.bat[b] ?? 0))
    for (const index of inTheWay) {
      const offset = (this.disk.bat[index] ?? 0) * SECTOR_SIZE
      const bytes = await this.#file.read(offset, blockBytes)
      await this.#append(index, bytes.subarray(0, this.disk.bitmapSize), bytes.subarray(this.disk.bitmapSize))
    }
    if (this.#footerOffset < batEnd) {
      // A file with no block past the new BAT end: move the footer out of the BAT's way first.
      await this.#file.write(batEnd, encodeFooter(this.disk.footer))
      this.#footerOffset = batEnd
    }
    const oldEnd = header.tableOffset + header.maxTableEntries * 4
    await this.#file.write(oldEnd, new Uint8Array(batEnd - oldEnd).fill(0xff))
    const bat = new Uint32Array(entries).fill(UNUSED_BAT_ENTRY)
    bat.set(this.disk.bat)
    this.#header = { ...header, maxTableEntries: entries }
    // maxTableEntries (28) and the checksum (36) sit in the header's first sector: writing only that
    // sector keeps the update atomic on a disk with 512-byte sector writes.
    await this.#file.write(this.disk.footer.dataOffset, encodeHeader(this.#header).subarray(0, SECTOR_SIZE))
    this.disk.bat = bat
    this.disk.header = this.#header
  }

  #checkLocators(batEnd: number): void {
    const header = this.#header
    const headerStart = this.disk.footer.dataOffset
    const oldEnd = header.tableOffset + batSizeBytes(header.maxTableEntries)
    const overlaps = (start: number, end: number): boolean => start < batEnd && end > oldEnd
    if (overlaps(headerStart, headerStart + 1024)) {
      fail(
        'VHD_UNSUPPORTED',
        this.#file.name,
        16,
        'footer.dataOffset',
        `a header outside the grown BAT [${header.tableOffset}, ${batEnd})`,
        headerStart,
      )
    }
    header.parentLocators.forEach((locator, i) => {
      if (
        locator.platformCode !== 0 &&
        overlaps(locator.dataOffset, locator.dataOffset + locatorSpaceBytes(locator))
      ) {
        fail(
          'VHD_UNSUPPORTED',
          this.#file.name,
          headerStart + 576 + i * 24 + 16,
          `header.parentLocators[${i}].dataOffset`,
          `outside the grown BAT [${header.tableOffset}, ${batEnd})`,
          locator.dataOffset,
        )
      }
    })
  }

  /** Writes `footer` at EOF, then its copy at offset 0 (the last step of a merge). */
  async writeFooter(footer: VhdFooter): Promise<void> {
    const bytes = encodeFooter(footer)
    await this.#file.write(this.#footerOffset, bytes)
    await this.#file.write(0, bytes)
  }

  /** Flushes written data to stable storage when the file can. */
  async sync(): Promise<void> {
    await this.#file.sync?.()
  }
}
