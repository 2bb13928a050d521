import { SECTOR_SIZE } from './constants.ts'

/** CHS disk geometry as stored in the footer (cylinders u16, heads u8, sectors per track u8). */
export interface Geometry {
  readonly cylinders: number
  readonly heads: number
  readonly sectorsPerTrack: number
}

/** The geometry the VHD spec appendix ("CHS calculation") derives from a size, capped at 65535/16/255. */
export function computeGeometry(sizeBytes: number): Geometry {
  const totalSectors = Math.min(Math.floor(sizeBytes / SECTOR_SIZE), 65535 * 16 * 255)
  let sectorsPerTrack: number
  let heads: number
  let cylinderTimesHeads: number
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255
    heads = 16
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
  } else {
    sectorsPerTrack = 17
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024))
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31
      heads = 16
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63
      heads = 16
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack }
}

/** Bytes addressed by a geometry (C × H × S × 512). */
export function geometrySize(geometry: Geometry): number {
  return geometry.cylinders * geometry.heads * geometry.sectorsPerTrack * SECTOR_SIZE
}
