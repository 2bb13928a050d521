// Destroying the VM a health check booted, and everything it held (xapi.md §2.3 VM.destroy keeps
// the VDIs, §2.7 errors): shut down if it runs, destroyed, then each of its disks destroyed so
// nothing stays on the SR. An object already gone counts as destroyed; a transient refusal
// (VDI_IN_USE while dom0 lets go of a disk, an operation still running) is retried a few times;
// a disk another VM also uses, and a CD, are never destroyed.
import type { Clock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import type { VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'

const NULL_REF = 'OpaqueRef:NULL'

/** Attempts per object, and the growing pause between them (1, 2, 3, 4 s). */
export const CLEANUP_ATTEMPTS = 5
const PAUSE_MS = 1000

const NEVER_DESTROYED = 'a control domain, snapshot or template is never destroyed here'

const TRANSIENT = new Set(['VDI_IN_USE', 'OTHER_OPERATION_IN_PROGRESS', 'VM_BAD_POWER_STATE'])

/** Something the cleanup had to leave: what it is and why. */
export interface Leftover {
  readonly class: 'VM' | 'VDI'
  readonly ref: XapiRef
  readonly uuid: string
  readonly reason: string
}

const gone = (error: unknown): boolean => errorCode(error) === 'HANDLE_INVALID'
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** The disks a VM owns: VDIs of its non-empty `Disk` VBDs (never a CD's ISO) and its suspend image. */
export async function readOwnedDisks(xapi: XapiClient, vm: VmRecord): Promise<XapiRef[]> {
  const disks: XapiRef[] = []
  for (const vbdRef of vm.VBDs) {
    try {
      const vbd = await xapi.getRecord('VBD', vbdRef)
      if (vbd.type === 'Disk' && !vbd.empty && vbd.VDI !== NULL_REF) disks.push(vbd.VDI)
    } catch (error) {
      if (!gone(error)) throw error
    }
  }
  if (vm.suspend_VDI !== NULL_REF) disks.push(vm.suspend_VDI)
  return disks
}

/**
 * Destroys `vmRef` (hard shutdown first unless halted; a `destroy` block removed, the VM being
 * ours; never a control domain, snapshot or template, which are reported left) and then every
 * disk it owns now or owned in `knownDisks`. Takes no signal: an aborted
 * health check cleans up all the same; every XAPI wait is the client's call timeout, every
 * retry bounded. Returns what could not be destroyed (empty: nothing is left).
 */
export async function destroyDisposableVm(
  xapi: XapiClient,
  vmRef: XapiRef,
  options: { readonly clock: Clock; readonly knownDisks?: readonly XapiRef[] },
): Promise<Leftover[]> {
  const leftovers: Leftover[] = []
  const disks = new Set(options.knownDisks ?? [])
  const vmLeft = await destroyVm(xapi, vmRef, options.clock, disks)
  if (vmLeft !== undefined) leftovers.push(vmLeft)
  if (vmLeft?.reason === NEVER_DESTROYED) return leftovers // nor its disks
  for (const vdiRef of disks) {
    const left = await destroyDisk(xapi, vdiRef, vmRef, options.clock)
    if (left !== undefined) leftovers.push(left)
  }
  return leftovers
}

async function destroyVm(
  xapi: XapiClient,
  vmRef: XapiRef,
  clock: Clock,
  disks: Set<XapiRef>,
): Promise<Leftover | undefined> {
  let uuid = ''
  for (let attempt = 1; ; attempt++) {
    try {
      const record = await xapi.getRecord('VM', vmRef)
      uuid = record.uuid
      // Whatever the caller says, these are never disposable: the pool's own VMs, snapshots, templates.
      if (record.is_control_domain || record.is_a_snapshot || record.is_a_template)
        return {
          class: 'VM',
          ref: vmRef,
          uuid,
          reason: 'a control domain, snapshot or template is never destroyed here',
        }
      for (const disk of await readOwnedDisks(xapi, record)) disks.add(disk)
      if (record.power_state !== 'Halted') await xapi.callAsync('VM.hard_shutdown', [vmRef])
      if (Object.hasOwn(record.blocked_operations, 'destroy'))
        await xapi.call('VM.remove_from_blocked_operations', [vmRef, 'destroy'])
      await xapi.callAsync('VM.destroy', [vmRef])
      return undefined
    } catch (error) {
      if (gone(error)) return undefined
      if (attempt < CLEANUP_ATTEMPTS && TRANSIENT.has(errorCode(error) ?? '')) {
        await clock.sleep(PAUSE_MS * attempt)
        continue
      }
      return { class: 'VM', ref: vmRef, uuid, reason: message(error) }
    }
  }
}

/** The VMs other than `owner` (and dom0) whose VBDs hold the VDI: it is theirs too, never destroyed. */
async function otherHolders(xapi: XapiClient, vbds: readonly XapiRef[], owner: XapiRef): Promise<string[]> {
  const holders: string[] = []
  for (const vbdRef of vbds) {
    try {
      const vbd = await xapi.getRecord('VBD', vbdRef)
      if (vbd.VM === owner) continue
      const vm = await xapi.getRecord('VM', vbd.VM)
      if (!vm.is_control_domain) holders.push(`${vm.name_label} (${vm.uuid})`)
    } catch (error) {
      if (!gone(error)) throw error
    }
  }
  return holders
}

async function destroyDisk(
  xapi: XapiClient,
  vdiRef: XapiRef,
  owner: XapiRef,
  clock: Clock,
): Promise<Leftover | undefined> {
  let uuid = ''
  for (let attempt = 1; ; attempt++) {
    try {
      const record = await xapi.getRecord('VDI', vdiRef)
      uuid = record.uuid
      const holders = await otherHolders(xapi, record.VBDs, owner)
      if (holders.length > 0) {
        const reason = `also used by ${holders.join(', ')}: not destroyed`
        return { class: 'VDI', ref: vdiRef, uuid, reason }
      }
      await xapi.callAsync('VDI.destroy', [vdiRef])
      return undefined
    } catch (error) {
      if (gone(error)) return undefined
      if (attempt < CLEANUP_ATTEMPTS && TRANSIENT.has(errorCode(error) ?? '')) {
        await clock.sleep(PAUSE_MS * attempt)
        continue
      }
      return { class: 'VDI', ref: vdiRef, uuid, reason: message(error) }
    }
  }
}
