// Turning a VM just written to an SR into a replica (the seed's "Of created VMs"; reference §5.1):
// in an order where a crash at any point leaves either a copy that cannot be started and is not
// yet complete (found and removed by the next run), or a complete replica — never a startable
// half-copy, never a complete-looking one with missing attributes.
import { formatXapiDateTime } from '../../shared/timestamps.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'
import { MIGRATION_BLOCKED_REASON, MIGRATION_OPERATIONS } from '../vm-run/migration-block.ts'
import { clearBackupKeys, KEY, setOtherConfigEntries } from '../vm-run/snapshot-attributes.ts'
import { HA_DISABLED_TAG, replicaName, SR_KEY, START_BLOCKED_MESSAGE } from './replicas.ts'

/** Who a replica belongs to and when its content was taken. */
export interface ReplicaIdentity {
  readonly jobId: string
  readonly jobName: string
  readonly scheduleId: string
  readonly vmUuid: string
  readonly vmName: string
  readonly srUuid: string
  /** The backup's timestamp (the source snapshot's time). */
  readonly timestampMs: number
  /** `Disaster Recovery` or `Continuous Replication`. */
  readonly tag: string
}

/** A disk of a replica, with the keys only it carries (CR: whose content it holds). */
export interface ReplicaDisk {
  readonly ref: XapiRef
  readonly keys?: Readonly<Record<string, string>>
}

/**
 * Blocks `start` and `start_on` (first thing done to a new copy: it must never boot by mistake),
 * and drops the migration block a halted VM's XVA carries from its own backup (our reason only).
 */
export async function blockStart(xapi: XapiClient, vmRef: XapiRef, signal?: AbortSignal): Promise<void> {
  const options = signal === undefined ? {} : { signal }
  for (const operation of ['start', 'start_on']) {
    await xapi.call('VM.remove_from_blocked_operations', [vmRef, operation], options)
    await xapi.call('VM.add_to_blocked_operations', [vmRef, operation, START_BLOCKED_MESSAGE], options)
  }
  const { blocked_operations: blocked } = await xapi.getRecord('VM', vmRef, options)
  for (const operation of MIGRATION_OPERATIONS)
    if (blocked[operation] === MIGRATION_BLOCKED_REASON)
      await xapi.call('VM.remove_from_blocked_operations', [vmRef, operation], options)
}

/** The `other_config` entries of a replica and of each of its disks (SR key excluded: set last). */
export function replicaKeys(identity: ReplicaIdentity): Record<string, string> {
  return {
    [KEY.datetime]: formatXapiDateTime(identity.timestampMs),
    [KEY.job]: identity.jobId,
    [KEY.schedule]: identity.scheduleId,
    [KEY.vm]: identity.vmUuid,
  }
}

/**
 * Marks `vmRef` (already start-blocked) and `disks` as the replica of `identity`: HA restart
 * priority cleared (tag `HA disabled` when there was one), the replica tag, the seed's name, the
 * backup keys on the VM and its disks (inherited `xo:backup:*` keys dropped first; then each
 * disk's own `keys`), `xo:copy_of`
 * on the VM, and `xo:backup:sr` last on the disks then the VM: its presence means complete.
 */
export async function markReplica(
  xapi: XapiClient,
  vmRef: XapiRef,
  disks: readonly ReplicaDisk[],
  identity: ReplicaIdentity,
  signal?: AbortSignal,
): Promise<void> {
  const options = signal === undefined ? {} : { signal }
  const record = await xapi.getRecord('VM', vmRef, options)
  if (record.ha_restart_priority !== '') {
    await xapi.call('VM.set_ha_restart_priority', [vmRef, ''], options)
    if (!record.tags.includes(HA_DISABLED_TAG))
      await xapi.call('VM.add_tags', [vmRef, HA_DISABLED_TAG], options)
  }
  if (!record.tags.includes(identity.tag)) await xapi.call('VM.add_tags', [vmRef, identity.tag], options)
  await xapi.call(
    'VM.set_name_label',
    [vmRef, replicaName(identity.vmName, identity.jobName, identity.timestampMs)],
    options,
  )
  const keys = replicaKeys(identity)
  for (const disk of disks) {
    const vdi = await xapi.getRecord('VDI', disk.ref, options)
    await clearBackupKeys(xapi, 'VDI', disk.ref, vdi.other_config, signal)
    await setOtherConfigEntries(xapi, 'VDI', disk.ref, { ...keys, ...disk.keys }, signal)
  }
  await clearBackupKeys(xapi, 'VM', vmRef, record.other_config, signal)
  await setOtherConfigEntries(xapi, 'VM', vmRef, { ...keys, [KEY.copyOf]: identity.vmUuid }, signal)
  await markComplete(
    xapi,
    vmRef,
    disks.map((d) => d.ref),
    identity.srUuid,
    signal,
  )
}

/** Sets `xo:backup:sr` on the disks then on the VM: from then on the replica counts as complete. */
export async function markComplete(
  xapi: XapiClient,
  vmRef: XapiRef,
  disks: readonly XapiRef[],
  srUuid: string,
  signal?: AbortSignal,
): Promise<void> {
  for (const disk of disks) await setOtherConfigEntries(xapi, 'VDI', disk, { [SR_KEY]: srUuid }, signal)
  await setOtherConfigEntries(xapi, 'VM', vmRef, { [SR_KEY]: srUuid }, signal)
}

/** Removes `xo:backup:sr` from the VM (first) and its disks: an update in place is under way. */
export async function markIncomplete(
  xapi: XapiClient,
  vmRef: XapiRef,
  disks: readonly XapiRef[],
  signal?: AbortSignal,
): Promise<void> {
  const options = signal === undefined ? {} : { signal }
  await xapi.call('VM.remove_from_other_config', [vmRef, SR_KEY], options)
  for (const disk of disks) await xapi.call('VDI.remove_from_other_config', [disk, SR_KEY], options)
}
