// Which disks of a delta backup are restored and onto which SR (reference §4 `mapVdisSrs`: VDI
// uuid → SR, null = skip the disk): pure, tested with tables.
import type { DeltaBackupMetadata } from '../../repository/metadata.ts'
import type { XapiRef } from '../../xapi/types.ts'
import { RestoreError } from './restore-error.ts'

/** One disk to restore: its key in the metadata's `vdis`/`vhds` and the SR it goes to. */
export interface PlannedDisk {
  readonly vdiRef: string
  readonly srRef: XapiRef
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined

/**
 * The uuids a disk of the backup answers to in an SR map, lower-cased: the backed-up snapshot
 * VDI's (`vdis[ref].uuid`), and the live VDI's (XO's `$snapshot_of$uuid`, and the chain folder
 * `vdis/<job>/<live vdi>/` its VHD is in).
 */
export function diskUuids(metadata: DeltaBackupMetadata, vdiRef: string): string[] {
  const vdi = metadata.vdis[vdiRef]
  const folder = metadata.vhds[vdiRef]?.split('/')
  const fromPath = folder !== undefined && folder.length === 4 && folder[0] === 'vdis' ? folder[2] : undefined
  const ids = [text(vdi?.uuid), text(vdi?.$snapshot_of$uuid), text(fromPath)]
  return [...new Set(ids.filter((id) => id !== undefined).map((id) => id.toLowerCase()))]
}

/** The numeric userdevice of the disk VBD of `vdiRef`, for ordering (Infinity when none). */
function deviceOf(metadata: DeltaBackupMetadata, vdiRef: string): number {
  const vbd = Object.values(metadata.vbds).find((v) => v.VDI === vdiRef)
  const device = Number(vbd?.userdevice)
  return Number.isInteger(device) ? device : Infinity
}

/**
 * The disks of `metadata` to restore, in the order of their VBDs' userdevice, each onto its SR in
 * `mapVdiSrs` (keyed by any of diskUuids; null skips the disk) or onto `srRef`. A key of
 * `mapVdiSrs` that is no disk of the backup is RestoreError RESTORE_INVALID naming it and the
 * disks there are (a typo must not restore a disk to the wrong SR silently).
 */
export function planRestoredDisks(
  metadata: DeltaBackupMetadata,
  srRef: XapiRef,
  mapVdiSrs: ReadonlyMap<string, XapiRef | null> = new Map(),
): PlannedDisk[] {
  const refs = Object.keys(metadata.vhds).sort((a, b) => deviceOf(metadata, a) - deviceOf(metadata, b))
  const byUuid = new Map<string, string>()
  for (const ref of refs) for (const uuid of diskUuids(metadata, ref)) byUuid.set(uuid, ref)
  const chosen = new Map<string, XapiRef | null>()
  for (const [uuid, sr] of mapVdiSrs) {
    const ref = byUuid.get(uuid.toLowerCase())
    if (ref === undefined)
      throw new RestoreError(
        'RESTORE_INVALID',
        `disk ${uuid}: not a disk of this backup (its disks: ${refs.map((r) => diskUuids(metadata, r).join(' or ')).join(', ') || 'none'})`,
        { details: { object: uuid } },
      )
    chosen.set(ref, sr)
  }
  const out: PlannedDisk[] = []
  for (const vdiRef of refs) {
    const sr = chosen.has(vdiRef) ? chosen.get(vdiRef) : srRef
    if (sr !== null && sr !== undefined) out.push({ vdiRef, srRef: sr })
  }
  return out
}
