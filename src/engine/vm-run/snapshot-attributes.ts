// The seed's attributes of created snapshots (000 "Attributes"): `other_config` keys on the
// snapshot VM and its VDIs that make a snapshot findable as this job's, and the two keys set only
// after a successful export, which make it a delta base (xen-orchestra-backups.md §3.1 step 5, §3.2).
import type { XapiClient, XapiRef } from '../../xapi/types.ts'

/** The `other_config` keys this engine reads and writes on snapshots. */
export const KEY = {
  datetime: 'xo:backup:datetime',
  job: 'xo:backup:job',
  schedule: 'xo:backup:schedule',
  vm: 'xo:backup:vm',
  contentKey: 'xo:backup:contentKey',
  exported: 'xo:backup:exported',
  deltaChainLength: 'xo:backup:deltaChainLength',
  /** Set by XO on replicas' disks: such a VDI is a copy, never a job snapshot. */
  copyOf: 'xo:copy_of',
} as const

/** Every key of our namespace starts with this; a new snapshot inherits them from its VM. */
export const BACKUP_KEY_PREFIX = 'xo:backup:'

/** The name a snapshot carries until it is tagged; any left behind is removed by the next run (§3.1). */
export const TEMP_SNAPSHOT_NAME = 'xo-backup-temp-snapshot-name'

/** The tagged snapshot's name (XO's `snapshotNameLabelTpl`, reference §1.4). */
export function snapshotName(jobName: string, vmName: string): string {
  return `[XO Backup ${jobName}] ${vmName}`
}

/** The attributes that say whose snapshot this is (seed "Of created VMs and snapshots"). */
export interface SnapshotIdentity {
  /** UTC `%Y%m%dT%H:%M:%SZ`. */
  readonly datetime: string
  readonly jobId: string
  readonly scheduleId: string
  readonly vmUuid: string
}

type Owner = 'VM' | 'VDI'

/**
 * Sets `entries` in the `other_config` of `ref`: each key removed then added, because
 * `add_to_other_config` refuses an existing key (MAP_DUPLICATE_KEY) and removing an absent one succeeds.
 */
export async function setOtherConfigEntries(
  xapi: XapiClient,
  cls: Owner,
  ref: XapiRef,
  entries: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<void> {
  const options = signal === undefined ? {} : { signal }
  for (const [key, value] of Object.entries(entries)) {
    if (cls === 'VM') {
      await xapi.call('VM.remove_from_other_config', [ref, key], options)
      await xapi.call('VM.add_to_other_config', [ref, key, value], options)
    } else {
      await xapi.call('VDI.remove_from_other_config', [ref, key], options)
      await xapi.call('VDI.add_to_other_config', [ref, key, value], options)
    }
  }
}

/** Removes every `xo:backup:*` key of `otherConfig` from `ref`. */
export async function clearBackupKeys(
  xapi: XapiClient,
  cls: Owner,
  ref: XapiRef,
  otherConfig: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<void> {
  const options = signal === undefined ? {} : { signal }
  for (const key of Object.keys(otherConfig).filter((k) => k.startsWith(BACKUP_KEY_PREFIX))) {
    if (cls === 'VM') await xapi.call('VM.remove_from_other_config', [ref, key], options)
    else await xapi.call('VDI.remove_from_other_config', [ref, key], options)
  }
}

/** A record to tag: its ref and the `other_config` it had when read. */
export interface Tagged {
  readonly ref: XapiRef
  readonly otherConfig: Readonly<Record<string, string>>
}

/**
 * Tags a new snapshot VM and its disks as this job's: first drops every `xo:backup:*` key they
 * inherited from the live VM (a restored or replicated VM may carry `xo:backup:exported`, which
 * would make an unexported snapshot look like a delta base: XO resets the live VM instead, we
 * leave it untouched), then sets datetime/job/schedule/vm on all and `contentKey` (the VDI's own
 * uuid) on the disks.
 */
export async function tagSnapshot(
  xapi: XapiClient,
  snapshot: { readonly vm: Tagged; readonly vdis: readonly (Tagged & { readonly uuid: string })[] },
  identity: SnapshotIdentity,
  signal?: AbortSignal,
): Promise<void> {
  const common = {
    [KEY.datetime]: identity.datetime,
    [KEY.job]: identity.jobId,
    [KEY.schedule]: identity.scheduleId,
    [KEY.vm]: identity.vmUuid,
  }
  for (const vdi of snapshot.vdis) {
    await clearBackupKeys(xapi, 'VDI', vdi.ref, vdi.otherConfig, signal)
    await setOtherConfigEntries(xapi, 'VDI', vdi.ref, { ...common, [KEY.contentKey]: vdi.uuid }, signal)
  }
  await clearBackupKeys(xapi, 'VM', snapshot.vm.ref, snapshot.vm.otherConfig, signal)
  await setOtherConfigEntries(xapi, 'VM', snapshot.vm.ref, common, signal)
}

/**
 * After a successful export: each disk's `deltaChainLength` (0 for a full disk, its base's + 1
 * for a delta; the VM gets the longest), then `exported = 'true'` on the disks and last on the VM,
 * so a crash in between leaves a snapshot that is not a base (job-snapshots.ts wants every mark).
 */
export async function markExported(
  xapi: XapiClient,
  snapshot: {
    readonly vmRef: XapiRef
    readonly disks: readonly { readonly ref: XapiRef; readonly chainLength: number }[]
  },
  signal?: AbortSignal,
): Promise<void> {
  for (const disk of snapshot.disks)
    await setOtherConfigEntries(
      xapi,
      'VDI',
      disk.ref,
      { [KEY.deltaChainLength]: String(disk.chainLength) },
      signal,
    )
  const longest = Math.max(0, ...snapshot.disks.map((d) => d.chainLength))
  await setOtherConfigEntries(xapi, 'VM', snapshot.vmRef, { [KEY.deltaChainLength]: String(longest) }, signal)
  for (const disk of snapshot.disks)
    await setOtherConfigEntries(xapi, 'VDI', disk.ref, { [KEY.exported]: 'true' }, signal)
  await setOtherConfigEntries(xapi, 'VM', snapshot.vmRef, { [KEY.exported]: 'true' }, signal)
}

/** A snapshot's `deltaChainLength` attribute as a count (absent or malformed: 0, as XO reads it). */
export function chainLengthOf(otherConfig: Readonly<Record<string, string>>): number {
  const text = otherConfig[KEY.deltaChainLength]
  if (text === undefined || !/^\d{1,9}$/.test(text)) return 0
  return Number(text)
}
