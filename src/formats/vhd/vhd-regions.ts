import { FOOTER_SIZE } from './constants.ts'
import type { VhdHeader } from './header.ts'
import { locatorSpaceBytes } from './header.ts'
import type { VhdIssue } from './vhd-error.ts'
import { issue } from './vhd-error.ts'

/** A byte range of a VHD's metadata (footer copy, header, BAT, locator data), for overlap checks. */
export interface Region {
  readonly start: number
  readonly end: number
  readonly what: string
}

/**
 * The data regions of the header's parent locators, after checking each against the file: its
 * length fits the space it reserves, and the space lies before the EOF footer (else an issue, and
 * no region). Locator data is never read, but its declared extent still places the blocks.
 */
export function locatorRegions(
  header: VhdHeader,
  headerOffset: number,
  fileSize: number,
  name: string,
  issues: VhdIssue[],
): Region[] {
  const regions: Region[] = []
  header.parentLocators.forEach((locator, i) => {
    if (locator.platformCode === 0) return
    const field = `header.parentLocators[${i}]`
    const at = headerOffset + 576 + i * 24
    const space = locatorSpaceBytes(locator)
    if (locator.dataLength > space) {
      const expected = `<= ${space} (the locator's dataSpace)`
      issues.push(issue('VHD_INVALID', name, at + 8, `${field}.dataLength`, expected, locator.dataLength))
      return
    }
    const end = locator.dataOffset + space
    if (end <= fileSize - FOOTER_SIZE) {
      regions.push({ start: locator.dataOffset, end, what: `parent locator ${i}` })
      return
    }
    issues.push(
      issue(
        'VHD_TRUNCATED',
        name,
        at + 16,
        `${field}.dataOffset`,
        `data within the file (${fileSize} bytes)`,
        `ends at ${end}`,
      ),
    )
  })
  return regions
}

/** Adds an issue for every two metadata regions that overlap. */
export function checkMetadataOverlaps(regions: Region[], name: string, issues: VhdIssue[]): void {
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i] as Region
      const b = regions[j] as Region
      if (a.start < b.end && b.start < a.end) {
        issues.push(
          issue(
            'VHD_INVALID',
            name,
            b.start,
            b.what,
            `no overlap with the ${a.what} [${a.start}, ${a.end})`,
            `[${b.start}, ${b.end})`,
          ),
        )
      }
    }
  }
}
