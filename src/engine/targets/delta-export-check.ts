import { isUuid } from '../../shared/ids.ts'
import type { DeltaExport, DeltaExportDisk } from '../backup-target.ts'
import { TargetError } from './target-error.ts'

/** A disk of a checked export, with the snapshot VDI's uuid (its VHD's footer uuid on a remote). */
export interface CheckedDisk extends DeltaExportDisk {
  readonly snapshotVdiUuid: string
}

const quote = (value: unknown): string => JSON.stringify(String(value).slice(0, 80))

/**
 * The disks of `deltaExport`, each with the uuid of its snapshot VDI record, after checking what
 * becomes a path or a VHD identity: every disk's ref has a VDI record whose uuid is a UUID, live
 * VDI and base uuids are UUIDs, and no two disks share a ref, a live VDI (one chain folder each)
 * or a snapshot VDI uuid (one VHD uuid each). TARGET_INVALID names the disk and the field.
 */
export function checkDeltaExport(deltaExport: DeltaExport, targetId: string): CheckedDisk[] {
  const bad = (ref: string, message: string): TargetError =>
    new TargetError('TARGET_INVALID', `remote ${targetId}: disk ${quote(ref)}: ${message}`)
  const seen = { ref: new Set<string>(), live: new Set<string>(), snapshot: new Set<string>() }
  return deltaExport.disks.map((disk) => {
    const ref = disk.snapshotVdiRef
    const record = Object.hasOwn(deltaExport.vdis, ref) ? deltaExport.vdis[ref] : undefined
    if (record === undefined) throw bad(ref, 'no VDI record in the export (vdis)')
    if (!isUuid(record.uuid)) throw bad(ref, `vdis.uuid: expected a UUID, got ${quote(record.uuid)}`)
    if (!isUuid(disk.liveVdiUuid))
      throw bad(ref, `liveVdiUuid: expected a UUID, got ${quote(disk.liveVdiUuid)}`)
    if (disk.baseSnapshotVdiUuid !== undefined && !isUuid(disk.baseSnapshotVdiUuid))
      throw bad(ref, `baseSnapshotVdiUuid: expected a UUID, got ${quote(disk.baseSnapshotVdiUuid)}`)
    const snapshotVdiUuid = record.uuid.toLowerCase()
    const live = disk.liveVdiUuid.toLowerCase()
    if (seen.ref.has(ref)) throw bad(ref, 'exported twice')
    if (seen.live.has(live)) throw bad(ref, `live VDI ${live} is exported by another disk too`)
    if (seen.snapshot.has(snapshotVdiUuid))
      throw bad(ref, `snapshot VDI ${snapshotVdiUuid} is exported by another disk too`)
    seen.ref.add(ref)
    seen.live.add(live)
    seen.snapshot.add(snapshotVdiUuid)
    return { ...disk, liveVdiUuid: live, snapshotVdiUuid }
  })
}
