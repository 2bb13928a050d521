import { batSizeBytes, bitmapSizeBytes, isAllocated, readBat } from './bat.ts'
import { DiskType, FOOTER_SIZE, HEADER_SIZE, SECTOR_SIZE } from './constants.ts'
import type { VhdFooter } from './footer.ts'
import { decodeFooter, validateFooter } from './footer.ts'
import type { VhdHeader } from './header.ts'
import { decodeHeader, validateHeader } from './header.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import type { VhdIssue } from './vhd-error.ts'
import { issue } from './vhd-error.ts'
import type { Region } from './vhd-regions.ts'
import { checkMetadataOverlaps, locatorRegions } from './vhd-regions.ts'

/** The structures of a VHD that passed inspection (header and BAT absent for a fixed disk). */
export interface VhdStructure {
  readonly fileSize: number
  readonly footer: VhdFooter
  readonly header: VhdHeader | undefined
  readonly bat: Uint32Array
}

/** Options of inspectVhd. */
export interface InspectOptions {
  /** Skip the comparison with the footer copy at offset 0 (a merge rewrites the EOF footer first). */
  readonly ignoreFooterCopy?: boolean
  /** Stop after this many issues (default 50). */
  readonly maxIssues?: number
}

/** Result of inspectVhd: the issues found, and the structures when they could be decoded. */
export interface Inspection {
  readonly issues: VhdIssue[]
  readonly structure: VhdStructure | undefined
}

const MAX_ISSUES = 50

/**
 * Reads and validates every structure of a VHD (footers, header, BAT, block extents, locators)
 * with reads bounded by the file size, so garbage input ends in issues, never a hang or a crash.
 */
export async function inspectVhd(file: RandomAccessFile, options: InspectOptions = {}): Promise<Inspection> {
  const name = file.name
  const issues: VhdIssue[] = []
  const fileSize = await file.size()
  if (fileSize < FOOTER_SIZE) {
    issues.push(issue('VHD_TRUNCATED', name, 0, 'file size', `>= ${FOOTER_SIZE}`, fileSize))
    return { issues, structure: undefined }
  }
  const footerOffset = fileSize - FOOTER_SIZE
  const footerBytes = await file.read(footerOffset, FOOTER_SIZE)
  issues.push(...validateFooter(footerBytes, name, footerOffset))
  let footer = decodeFooter(footerBytes)
  const copy = fileSize >= 2 * FOOTER_SIZE ? await file.read(0, FOOTER_SIZE) : undefined
  if (issues.length > 0) {
    // A broken EOF footer: carry on with the copy at 0 (if sound) to report what else is wrong.
    if (copy === undefined || validateFooter(copy, name, 0).length > 0)
      return { issues, structure: undefined }
    footer = decodeFooter(copy)
  }
  if (footer.diskType === DiskType.fixed) {
    if (footerOffset < footer.currentSize) {
      issues.push(
        issue('VHD_TRUNCATED', name, footerOffset, 'fixed data', `${footer.currentSize} bytes`, footerOffset),
      )
    }
    return { issues, structure: { fileSize, footer, header: undefined, bat: new Uint32Array(0) } }
  }
  if (options.ignoreFooterCopy !== true && issues.length === 0)
    checkFooterCopy(copy, footerBytes, name, issues)
  const structure = await inspectDynamic(file, fileSize, footer, issues)
  const limit = options.maxIssues ?? MAX_ISSUES
  return { issues: issues.slice(0, limit), structure }
}

function checkFooterCopy(
  copy: Uint8Array | undefined,
  footer: Uint8Array,
  name: string,
  issues: VhdIssue[],
): void {
  if (copy === undefined) return
  const copyIssues = validateFooter(copy, name, 0)
  if (copyIssues.length > 0) {
    issues.push(...copyIssues)
    return
  }
  const differs = copy.findIndex((byte, i) => byte !== footer[i])
  if (differs !== -1) {
    issues.push(
      issue(
        'VHD_INVALID',
        name,
        differs,
        'footer copy',
        'identical to the footer at EOF',
        `differs at byte ${differs}`,
      ),
    )
  }
}

async function inspectDynamic(
  file: RandomAccessFile,
  fileSize: number,
  footer: VhdFooter,
  issues: VhdIssue[],
): Promise<VhdStructure | undefined> {
  const header = await readHeader(file, fileSize, footer, issues)
  if (header === undefined) return undefined
  const batBytes = batSizeBytes(header.maxTableEntries)
  // Bound the BAT by the file before allocating anything for it.
  if (header.tableOffset + batBytes > fileSize - FOOTER_SIZE) {
    const beyond = header.tableOffset >= fileSize
    issues.push(
      issue(
        'VHD_TRUNCATED',
        file.name,
        footer.dataOffset + (beyond ? 16 : 28),
        beyond ? 'header.tableOffset' : 'header.maxTableEntries',
        `BAT within the file (${fileSize} bytes)`,
        `BAT ends at ${header.tableOffset + batBytes}`,
      ),
    )
    return undefined
  }
  const bat = await readBat(file, header.tableOffset, header.maxTableEntries)
  if (bat === undefined) {
    const got = `a file that ended while reading it (now ${await file.size()} bytes)`
    issues.push(issue('VHD_TRUNCATED', file.name, header.tableOffset, 'BAT', `${batBytes} bytes`, got))
    return undefined
  }
  const metadata: Region[] = [
    { start: 0, end: FOOTER_SIZE, what: 'footer copy' },
    { start: footer.dataOffset, end: footer.dataOffset + HEADER_SIZE, what: 'header' },
    { start: header.tableOffset, end: header.tableOffset + batBytes, what: 'BAT' },
    ...locatorRegions(header, footer.dataOffset, fileSize, file.name, issues),
  ]
  checkMetadataOverlaps(metadata, file.name, issues)
  const sound = checkBlockExtents(bat, header, metadata, fileSize, file.name, issues)
  checkBlockOverlaps(bat, header, sound, file.name, issues)
  return { fileSize, footer, header, bat }
}

async function readHeader(
  file: RandomAccessFile,
  fileSize: number,
  footer: VhdFooter,
  issues: VhdIssue[],
): Promise<VhdHeader | undefined> {
  const headerOffset = footer.dataOffset
  if (headerOffset < FOOTER_SIZE || headerOffset + HEADER_SIZE > fileSize - FOOTER_SIZE) {
    const expected = `in [512, ${fileSize - FOOTER_SIZE - HEADER_SIZE}]`
    issues.push(issue('VHD_INVALID', file.name, 16, 'footer.dataOffset', expected, headerOffset))
    return undefined
  }
  const headerBytes = await file.read(headerOffset, HEADER_SIZE)
  const headerIssues = validateHeader(headerBytes, file.name, headerOffset, footer.currentSize)
  issues.push(...headerIssues)
  return headerIssues.length > 0 ? undefined : decodeHeader(headerBytes)
}

/** Checks each allocated entry lies in the data area and off the metadata; returns the sound ones. */
function checkBlockExtents(
  bat: Uint32Array,
  header: VhdHeader,
  metadata: Region[],
  fileSize: number,
  name: string,
  issues: VhdIssue[],
): number[] {
  const blockBytes = bitmapSizeBytes(header.blockSize) + header.blockSize
  const dataEnd = fileSize - FOOTER_SIZE
  const sound: number[] = []
  for (let i = 0; i < bat.length && issues.length < MAX_ISSUES; i++) {
    const entry = bat[i]
    if (!isAllocated(entry)) continue
    const start = entry * SECTOR_SIZE
    const got = `block [${start}, ${start + blockBytes})`
    const at = header.tableOffset + i * 4
    const hit = metadata.find((r) => start < r.end && r.start < start + blockBytes)
    if (start + blockBytes > dataEnd) {
      issues.push(
        issue('VHD_TRUNCATED', name, at, `bat[${i}]`, `block within the data area (ends <= ${dataEnd})`, got),
      )
    } else if (hit !== undefined) {
      const expected = `no overlap with the ${hit.what} [${hit.start}, ${hit.end})`
      issues.push(issue('VHD_INVALID', name, at, `bat[${i}]`, expected, got))
    } else sound.push(i)
  }
  return sound
}

/** Two BAT entries whose blocks overlap (or are the same block: the VHD form of a loop). */
function checkBlockOverlaps(
  bat: Uint32Array,
  header: VhdHeader,
  indexes: number[],
  name: string,
  issues: VhdIssue[],
): void {
  const blockBytes = bitmapSizeBytes(header.blockSize) + header.blockSize
  indexes.sort((a, b) => (bat[a] ?? 0) - (bat[b] ?? 0))
  for (let k = 1; k < indexes.length && issues.length < MAX_ISSUES; k++) {
    const prev = indexes[k - 1] as number
    const next = indexes[k] as number
    const prevStart = (bat[prev] ?? 0) * SECTOR_SIZE
    const nextStart = (bat[next] ?? 0) * SECTOR_SIZE
    if (nextStart < prevStart + blockBytes) {
      const expected = `no overlap with block ${prev} [${prevStart}, ${prevStart + blockBytes})`
      issues.push(
        issue(
          'VHD_INVALID',
          name,
          header.tableOffset + next * 4,
          `bat[${next}]`,
          expected,
          `block at ${nextStart}`,
        ),
      )
    }
  }
}
