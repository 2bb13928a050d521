import type { SimulatorDb } from '../db.ts'
import { createVdi } from '../objects.ts'
import type { Value } from '../types.ts'
import { EPOCH_DATETIME, NULL_REF, formatXapiDateTime } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'

/** How a VDI is duplicated: a read-only point-in-time snapshot, a CoW clone, or a full copy. */
export type VdiCopyKind = 'snapshot' | 'clone' | 'copy'

// The metadata VDI.snapshot and VDI.clone carry over (xapi.md §2.5).
const COPIED_FIELDS = [
  'name_label', 'name_description', 'type', 'sharable', 'read_only', 'other_config', 'xenstore_data', 'on_boot',
  'allow_caching', 'tags', 'virtual_size', 'physical_utilisation', 'sm_config',
] as const // prettier-ignore

/** True when a VBD of the VDI is attached (a running VM's disk or a dom0 attach). */
export function isVdiAttached(db: SimulatorDb, vdi: string): boolean {
  return (db.get('VDI', vdi).VBDs as string[]).some((vbd) => db.find('VBD', vbd)?.currently_attached === true)
}

/** Raises VDI_INCOMPATIBLE_TYPE for cbt_metadata VDIs (xapi.md §2.5 allowed-ops rules). */
export function assertNotCbtMetadata(db: SimulatorDb, vdi: string): void {
  if (db.get('VDI', vdi).type === 'cbt_metadata')
    throw new XapiFault('VDI_INCOMPATIBLE_TYPE', [vdi, 'cbt_metadata'])
}

/**
 * Duplicates a VDI (xapi.md §2.5): a snapshot gets `is_a_snapshot`, `snapshot_of`, `snapshot_time`
 * and keeps CBT; clones and copies are plain writable VDIs. The new VDI's content handle records
 * the source's as its origin, for the data plane's copy-on-write.
 */
export function duplicateVdi(
  db: SimulatorDb,
  vdi: string,
  kind: VdiCopyKind,
  nowMs: number,
  sr?: string,
): string {
  const source = db.get('VDI', vdi)
  assertNotCbtMetadata(db, vdi)
  if (kind === 'snapshot' && source.sharable === true) throw new XapiFault('VDI_IS_SHARABLE', [vdi])
  if (kind !== 'copy' && source.on_boot === 'reset') {
    throw new XapiFault('VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION', [])
  }
  const fields: Record<string, Value> = {}
  for (const name of COPIED_FIELDS) fields[name] = source[name] as Value
  const snapshot = kind === 'snapshot'
  const ref = createVdi(db, {
    ...fields,
    SR: sr ?? (source.SR as string),
    is_a_snapshot: snapshot,
    snapshot_of: snapshot ? vdi : NULL_REF,
    snapshot_time: snapshot ? formatXapiDateTime(nowMs) : EPOCH_DATETIME,
    cbt_enabled: snapshot && source.cbt_enabled === true,
    read_only: snapshot ? source.read_only === true : false,
  })
  db.setContentHandle(ref, db.contentHandle(ref) ?? '', db.contentHandle(vdi))
  return ref
}

/** Deletes a detached VDI and its VBDs, nulling `VM.suspend_VDI` references (xapi.md §2.5). */
export function destroyVdi(db: SimulatorDb, vdi: string): void {
  const record = db.get('VDI', vdi)
  if (isVdiAttached(db, vdi)) throw new XapiFault('VDI_IN_USE', [vdi, 'destroy'])
  if (record.managed === false) throw new XapiFault('VDI_NOT_MANAGED', [vdi])
  for (const vbd of record.VBDs as string[]) db.destroy('VBD', vbd)
  for (const vm of db.select('VM', (r) => r.suspend_VDI === vdi))
    db.update('VM', vm, { suspend_VDI: NULL_REF })
  db.destroy('VDI', vdi)
}
