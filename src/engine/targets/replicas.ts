// Replicas on an SR (xen-orchestra-backups.md §5; the seed's "Of created VMs"): the attributes a
// DR or CR copy carries, how the copies of one (schedule, VM, SR) are found — complete ones, and
// the leftovers of interrupted runs — and how one is destroyed with the disks only it holds.
import { formatBackupTimestamp, parseXapiDateTime } from '../../shared/timestamps.ts'
import type { VbdRecord, VdiRecord, VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import { KEY } from '../vm-run/snapshot-attributes.ts'

/** `other_config` key set on a replica (VM and disks) only once it is complete: the SR's uuid. */
export const SR_KEY = 'xo:backup:sr'

/** The tag of a replica, by job mode (seed: "copy in full mode" / "copy in delta mode"). */
export const REPLICA_TAG = { full: 'Disaster Recovery', delta: 'Continuous Replication' } as const

/** The tag XO adds when it clears a replica's HA restart priority. */
export const HA_DISABLED_TAG = 'HA disabled'

/** The reason XAPI gives when a replica is started (`blocked_operations.start` / `start_on`). */
export const START_BLOCKED_MESSAGE = 'Start operation for this vm is blocked, clone it if you want to use it.'

const NULL_REF = 'OpaqueRef:NULL'

/** A replica's name: `${name} - ${job name} - (${YYYYMMDDTHHmmssZ})` (the seed's "name_label"). */
export function replicaName(vmName: string, jobName: string, timestampMs: number): string {
  return `${vmName} - ${jobName} - (${formatBackupTimestamp(timestampMs)})`
}

/** One replica (a VM, or a CR target snapshot) with its disks, ordered by `xo:backup:datetime`. */
export interface Replica {
  readonly ref: XapiRef
  readonly record: VmRecord
  readonly timestampMs: number
  /** Its disk VDIs (VBD type Disk, not empty). */
  readonly disks: readonly { readonly ref: XapiRef; readonly record: VdiRecord }[]
}

/** The replicas of one (schedule, VM) on one SR. */
export interface ReplicaListing {
  /** Complete copies (`xo:backup:sr` = the SR), oldest first: VMs (DR, CR's live replicas) and CR target snapshots. */
  readonly complete: readonly Replica[]
  /** Copies without `xo:backup:sr` whose disks are on the SR: leftovers of runs cut before the end. */
  readonly interrupted: readonly Replica[]
}

/** What identifies the replicas of one writer. */
export interface ReplicaOwner {
  /** Schedule ids are only unique within a job in a run description: both are matched. */
  readonly jobId: string
  readonly scheduleId: string
  /** The source VM's uuid (`xo:backup:vm`). */
  readonly vmUuid: string
  readonly srUuid: string
  readonly srRef: XapiRef
}

function timestampOf(record: VmRecord): number {
  try {
    return parseXapiDateTime(record.other_config[KEY.datetime] ?? '')
  } catch {
    // A datetime we cannot read sorts oldest: such a copy is the first retention removes.
    return 0
  }
}

function isOwned(record: VmRecord, owner: ReplicaOwner): boolean {
  return (
    !record.is_control_domain &&
    record.uuid !== owner.vmUuid &&
    record.other_config[KEY.vm] === owner.vmUuid &&
    record.other_config[KEY.job] === owner.jobId &&
    record.other_config[KEY.schedule] === owner.scheduleId &&
    // A copy a user made for failover has had its start unblocked: it is theirs, never ours.
    (record.is_a_snapshot || Object.hasOwn(record.blocked_operations, 'start')) &&
    (!record.is_a_template || record.is_a_snapshot)
  )
}

/**
 * Lists the replicas `owner` wrote (reference §5 `listReplicatedVms`): VMs and snapshots whose
 * `xo:backup:vm`, `xo:backup:job` and `xo:backup:schedule` are the owner's and, unless a snapshot, whose start is
 * blocked. Complete ones carry `xo:backup:sr` = the SR; one without it counts as interrupted only
 * when every disk is on the SR (another SR's copy may be in flight in the same VM run).
 */
export async function listReplicas(
  xapi: XapiClient,
  owner: ReplicaOwner,
  signal?: AbortSignal,
): Promise<ReplicaListing> {
  const options = signal === undefined ? {} : { signal }
  const [vms, vbds, vdis] = await Promise.all([
    xapi.getAllRecords('VM', options),
    xapi.getAllRecords('VBD', options),
    xapi.getAllRecords('VDI', options),
  ])
  const complete: Replica[] = []
  const interrupted: Replica[] = []
  for (const [ref, record] of vms) {
    if (!isOwned(record, owner)) continue
    const disks = disksOf(record, vbds, vdis)
    const replica = { ref, record, timestampMs: timestampOf(record), disks }
    const sr = record.other_config[SR_KEY]
    if (sr === owner.srUuid) complete.push(replica)
    else if (
      sr === undefined &&
      !record.is_a_snapshot &&
      disks.length > 0 &&
      disks.every((d) => d.record.SR === owner.srRef)
    )
      interrupted.push(replica)
  }
  const byTime = (a: Replica, b: Replica) => a.timestampMs - b.timestampMs
  return { complete: complete.sort(byTime), interrupted: interrupted.sort(byTime) }
}

function disksOf(
  vm: VmRecord,
  vbds: ReadonlyMap<XapiRef, VbdRecord>,
  vdis: ReadonlyMap<XapiRef, VdiRecord>,
): { ref: XapiRef; record: VdiRecord }[] {
  const disks: { ref: XapiRef; record: VdiRecord }[] = []
  for (const vbdRef of vm.VBDs) {
    const vbd = vbds.get(vbdRef)
    if (vbd === undefined || vbd.type !== 'Disk' || vbd.empty || vbd.VDI === NULL_REF) continue
    const record = vdis.get(vbd.VDI)
    if (record !== undefined) disks.push({ ref: vbd.VDI, record })
  }
  return disks
}

const gone = (error: unknown): boolean => (error as { code?: unknown }).code === 'HANDLE_INVALID'

/**
 * Destroys a replica: shut down if a user started it anyway, the VM, then each of its disks that
 * no other VM holds (a disk shared with another VM, or a CD, is never destroyed). An object
 * already gone counts as destroyed.
 */
export async function destroyReplica(
  xapi: XapiClient,
  replica: Replica,
  signal?: AbortSignal,
): Promise<void> {
  const options = signal === undefined ? {} : { signal }
  try {
    const record = await xapi.getRecord('VM', replica.ref, options)
    if (record.power_state === 'Running' || record.power_state === 'Paused')
      await xapi.call('VM.hard_shutdown', [replica.ref], options)
    await xapi.call('VM.destroy', [replica.ref], options)
  } catch (error) {
    if (!gone(error)) throw error
  }
  for (const disk of replica.disks) {
    if (disk.record.VBDs.length > 1) continue
    try {
      await xapi.call('VDI.destroy', [disk.ref], options)
    } catch (error) {
      if (!gone(error)) throw error
    }
  }
}
