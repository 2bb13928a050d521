// Removing a VM made by an import whose later steps failed: the VM (XAPI deletes its VBDs and
// VIFs, not its VDIs, xapi.md §2.3) and the disks attached to it. Never with the restore's
// AbortSignal: an aborted restore must still clean up.
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import type { Leftover } from './rollback.ts'
import { Rollback } from './rollback.ts'
import type { Clock } from '../../shared/clock.ts'

/**
 * Destroys the VM `vmRef` and the VDIs of its disk VBDs (a CD's VDI is the ISO SR's, never
 * destroyed); returns what could not be destroyed (empty when all went, or was gone already).
 */
export async function destroyVmWithDisks(
  xapi: XapiClient,
  vmRef: XapiRef,
  clock?: Clock,
): Promise<Leftover[]> {
  const rollback = new Rollback(xapi, clock)
  // Destroyed newest first: the VDIs (recorded after it) go before the VM; the VM is halted, so
  // its VBDs are not attached and VDI.destroy takes them along (xapi.md §2.5).
  rollback.add('VM', vmRef)
  try {
    const vm = await xapi.getRecord('VM', vmRef)
    for (const vbdRef of vm.VBDs) {
      const vbd = await xapi.getRecord('VBD', vbdRef)
      if (vbd.type === 'Disk' && vbd.VDI !== 'OpaqueRef:NULL') rollback.add('VDI', vbd.VDI)
    }
  } catch {
    // The VM or a VBD is gone already: destroy what is known.
  }
  return rollback.destroyAll()
}
