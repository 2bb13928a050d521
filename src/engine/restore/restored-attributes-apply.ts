// The attributes of a VM once restored (reference §4 post-import): the restore tag, its name and
// description, and none of the source's backup bookkeeping on the VM and its disks.
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import { MIGRATION_BLOCKED_REASON } from '../vm-run/migration-block.ts'
import { isBackupKey, RESTORED_TAG } from './restore-attributes.ts'

/** The name and description a restored VM gets (restoredName, restoredDescription). */
export interface RestoredAttributes {
  readonly nameLabel: string
  readonly nameDescription: string
}

/**
 * Tags `vmRef` RESTORED_TAG, sets its name and description, removes every backup key
 * (isBackupKey) from the other_config of the VM and of the VDIs of its disk VBDs, and every
 * migration block a backup run put on the source VM (an XVA of a VM exported during its backup
 * carries them; the restored VM is no backup's).
 */
export async function applyRestoredAttributes(
  xapi: XapiClient,
  vmRef: XapiRef,
  attributes: RestoredAttributes,
): Promise<void> {
  await xapi.call('VM.add_tags', [vmRef, RESTORED_TAG])
  await xapi.call('VM.set_name_label', [vmRef, attributes.nameLabel])
  await xapi.call('VM.set_name_description', [vmRef, attributes.nameDescription])
  const vm = await xapi.getRecord('VM', vmRef)
  for (const key of Object.keys(vm.other_config).filter(isBackupKey))
    await xapi.call('VM.remove_from_other_config', [vmRef, key])
  const blockedByBackup = Object.entries(vm.blocked_operations).filter(
    ([, reason]) => reason === MIGRATION_BLOCKED_REASON,
  )
  for (const [operation] of blockedByBackup)
    await xapi.call('VM.remove_from_blocked_operations', [vmRef, operation])
  if (blockedByBackup.length > 0) await xapi.call('VM.update_allowed_operations', [vmRef])
  for (const vbdRef of vm.VBDs) {
    const vbd = await xapi.getRecord('VBD', vbdRef)
    if (vbd.type !== 'Disk' || vbd.VDI === 'OpaqueRef:NULL') continue
    const vdi = await xapi.getRecord('VDI', vbd.VDI)
    for (const key of Object.keys(vdi.other_config).filter(isBackupKey))
      await xapi.call('VDI.remove_from_other_config', [vbd.VDI, key])
  }
}
