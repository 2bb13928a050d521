// The disks of an import: each checked against its VDI record before anything is made, then its
// VDI created on its SR, or cloned from a base VDI (grown when smaller), with its other_config.
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import type { BlockSource } from '../../formats/block-source.ts'
import { planVdiCreate, stringMap } from './import-records.ts'
import { create, describeDisk, step } from './import-steps.ts'
import type { LooseRecord } from './network-mapping.ts'
import { RestoreError } from './restore-error.ts'
import type { Rollback } from './rollback.ts'

/** One disk to import: which VDI record of `vdis` it is, its blocks, and where it goes. */
export interface DeltaVmDisk {
  /** The VDI's key in `vdis` (the backup's or the export's VDI ref). */
  readonly vdiRef: string
  readonly source: BlockSource
  readonly srRef: XapiRef
  /** Clone this VDI (grown to the disk's size if smaller) instead of creating an empty one. */
  readonly baseVdiRef?: XapiRef
  /** Keys added to the new VDI's other_config (over the record's). */
  readonly otherConfig?: Readonly<Record<string, string>>
}

/** Checks every disk against the records before anything is created; returns each disk's VDI size. */
export function planDisks(
  disks: readonly DeltaVmDisk[],
  vdis: Readonly<Record<string, LooseRecord>>,
): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const disk of disks) {
    const vdi = vdis[disk.vdiRef]
    if (vdi === undefined)
      throw new RestoreError(
        'RESTORE_INVALID',
        `disk ${disk.vdiRef}: no VDI record with this ref in the records`,
        {
          details: { object: disk.vdiRef },
        },
      )
    if (sizes.has(disk.vdiRef))
      throw new RestoreError('RESTORE_INVALID', `${describeDisk(disk.vdiRef, vdi)}: given twice`, {
        details: { object: disk.vdiRef },
      })
    const recorded = vdi.virtual_size
    const size = typeof recorded === 'number' && Number.isSafeInteger(recorded) ? recorded : 0
    // The VDI must hold the whole source; SM may round the size up, never down.
    sizes.set(disk.vdiRef, Math.max(size, disk.source.virtualSize))
  }
  return sizes
}

export async function createVdi(
  xapi: XapiClient,
  rollback: Rollback,
  disk: DeltaVmDisk,
  vdi: LooseRecord,
  sizeBytes: number,
): Promise<XapiRef> {
  const otherConfig = { ...stringMap(vdi.other_config), ...disk.otherConfig }
  const name = describeDisk(disk.vdiRef, vdi)
  if (disk.baseVdiRef === undefined) {
    const record = planVdiCreate(vdi, { srRef: disk.srRef, virtualSizeBytes: sizeBytes, otherConfig })
    const ref = await create(`creating the VDI of ${name} on SR ${disk.srRef}`, name, () =>
      xapi.call('VDI.create', [record]),
    )
    rollback.add('VDI', ref)
    return ref
  }
  const base = disk.baseVdiRef
  const ref = await create(`cloning VDI ${base} for ${name}`, name, () => xapi.call('VDI.clone', [base, {}]))
  rollback.add('VDI', ref)
  const clone = await step(`reading the clone of VDI ${base}`, name, () => xapi.getRecord('VDI', ref))
  if (clone.virtual_size < sizeBytes)
    await step(`growing the clone of VDI ${base} to ${sizeBytes} bytes`, name, () =>
      xapi.call('VDI.resize', [ref, sizeBytes]),
    )
  for (const [key, value] of Object.entries(otherConfig)) {
    await step(`setting other_config.${key} of the clone of VDI ${base}`, name, async () => {
      await xapi.call('VDI.remove_from_other_config', [ref, key])
      await xapi.call('VDI.add_to_other_config', [ref, key, value])
    })
  }
  return ref
}
