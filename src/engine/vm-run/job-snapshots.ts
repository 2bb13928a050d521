// The job's snapshots of one VM (xen-orchestra-backups.md §3.1 step 3, XO's `_fetchJobSnapshots` +
// `_filterValidSnapshotVdis`): snapshot VMs and snapshot VDIs tagged with this job and VM, checked
// against each other. Only valid ones are ever used as a base or deleted by retention; the rest
// are reported and left alone (they may be someone else's).
import { mapWithConcurrency } from '../../shared/async.ts'
import { errorCode } from '../../shared/errors.ts'
import { parseXapiDateTime } from '../../shared/timestamps.ts'
import type { StringMap, VbdRecord, VdiRecord, VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import { KEY, TEMP_SNAPSHOT_NAME } from './snapshot-attributes.ts'

const NULL_REF = 'OpaqueRef:NULL'
const READ_CONCURRENCY = 8

/** A disk of a VM: its (Disk, non-empty) VBD and VDI. */
export interface VmDisk {
  readonly vbdRef: XapiRef
  readonly vbd: VbdRecord
  readonly ref: XapiRef
  readonly record: VdiRecord
}

/** One snapshot of this job: a snapshot VM with its disks, or disks whose snapshot VM is gone. */
export interface JobSnapshot {
  readonly datetime: string
  readonly timeMs: number
  readonly scheduleId: string
  readonly vm: { readonly ref: XapiRef; readonly record: VmRecord } | undefined
  readonly vdis: readonly { readonly ref: XapiRef; readonly record: VdiRecord }[]
  /** `xo:backup:exported` on the VM (if any) and on every disk: a possible delta base. */
  readonly exported: boolean
}

/** What fetchJobSnapshots found. */
export interface JobSnapshots {
  /** Valid job snapshots, oldest first. */
  readonly snapshots: readonly JobSnapshot[]
  /** Objects tagged with this job and VM that are inconsistent: never used, never deleted. */
  readonly ignored: readonly { readonly uuid: string; readonly reason: string }[]
  /** Snapshots of the VM still named TEMP_SNAPSHOT_NAME and idle: a run stopped before tagging. */
  readonly leftovers: readonly { readonly ref: XapiRef; readonly record: VmRecord }[]
}

/** Reads records once per pass; an object deleted meanwhile (HANDLE_INVALID) reads as undefined. */
export class RecordReader {
  readonly #xapi: XapiClient
  readonly #cache = new Map<string, Promise<unknown>>()

  constructor(xapi: XapiClient) {
    this.#xapi = xapi
  }

  /** The record of `ref`, or undefined when it no longer exists. */
  get<C extends 'VM' | 'VBD' | 'VDI'>(
    cls: C,
    ref: XapiRef,
  ): Promise<(C extends 'VM' ? VmRecord : C extends 'VBD' ? VbdRecord : VdiRecord) | undefined> {
    const key = `${cls} ${ref}`
    let pending = this.#cache.get(key)
    if (pending === undefined) {
      pending =
        ref === NULL_REF
          ? Promise.resolve(undefined)
          : this.#xapi.getRecord(cls, ref).catch((error: unknown) => {
              if (errorCode(error) === 'HANDLE_INVALID') return undefined
              throw error
            })
      this.#cache.set(key, pending)
    }
    return pending as Promise<never>
  }

  /** Records of `refs` that still exist, in order. */
  async getAll<C extends 'VM' | 'VBD' | 'VDI'>(cls: C, refs: readonly XapiRef[]) {
    const records = await mapWithConcurrency(refs, READ_CONCURRENCY, (ref) => this.get(cls, ref))
    return refs.flatMap((ref, i) => {
      const record = records[i]
      return record === undefined ? [] : [{ ref, record }]
    })
  }
}

/** The disks of a VM: its Disk VBDs that hold a VDI, in `userdevice` order (CDs and empty drives left out). */
export async function readVmDisks(reader: RecordReader, vm: VmRecord): Promise<VmDisk[]> {
  const vbds = (await reader.getAll('VBD', vm.VBDs)).filter(
    ({ record }) => record.type === 'Disk' && !record.empty && record.VDI !== NULL_REF,
  )
  const disks: VmDisk[] = []
  for (const { ref: vbdRef, record: vbd } of vbds) {
    const vdi = await reader.get('VDI', vbd.VDI)
    if (vdi !== undefined) disks.push({ vbdRef, vbd, ref: vbd.VDI, record: vdi })
  }
  return disks.sort((a, b) => Number(a.vbd.userdevice) - Number(b.vbd.userdevice))
}

interface Identity {
  readonly datetime: string
  readonly timeMs: number
  readonly scheduleId: string
}

/** The identity a tagged object claims, or why it cannot be one of this job's snapshots. */
function identityOf(otherConfig: StringMap, jobId: string, vmUuid: string): Identity | string | undefined {
  if (otherConfig[KEY.job] !== jobId || otherConfig[KEY.vm] !== vmUuid) return undefined
  if (otherConfig[KEY.copyOf] !== undefined) return 'it is a replica copy (xo:copy_of)'
  const datetime = otherConfig[KEY.datetime]
  const scheduleId = otherConfig[KEY.schedule]
  if (scheduleId === undefined || scheduleId === '') return `no ${KEY.schedule}`
  if (datetime === undefined) return `no ${KEY.datetime}`
  try {
    return { datetime, timeMs: parseXapiDateTime(datetime), scheduleId }
  } catch {
    return `${KEY.datetime} ${JSON.stringify(datetime.slice(0, 40))} is not a UTC %Y%m%dT%H:%M:%SZ time`
  }
}

const sameIdentity = (a: Identity, b: Identity): boolean =>
  a.timeMs === b.timeMs && a.scheduleId === b.scheduleId
const isExported = (otherConfig: StringMap): boolean => otherConfig[KEY.exported] === 'true'

/**
 * The valid snapshots of `vm` made by job `jobId`: its snapshot VMs tagged with the job and VM
 * (each of their disks tagged alike, with the same datetime and schedule), plus tagged snapshot
 * VDIs of its disks that no VM holds any more. A VDI held by a non-snapshot VM, by several VMs or
 * by a snapshot VM that is not this job's is ignored, as is a snapshot VM with such a disk.
 */
export async function fetchJobSnapshots(
  reader: RecordReader,
  live: { readonly ref: XapiRef; readonly record: VmRecord; readonly disks: readonly VmDisk[] },
  jobId: string,
): Promise<JobSnapshots> {
  const vmUuid = live.record.uuid
  const ignored: { uuid: string; reason: string }[] = []
  const leftovers: { ref: XapiRef; record: VmRecord }[] = []
  const snapshots: JobSnapshot[] = []
  const jobVms = new Map<XapiRef, Identity>()
  const seenVdis = new Set<XapiRef>()

  for (const { ref, record } of await reader.getAll('VM', live.record.snapshots)) {
    if (!record.is_a_snapshot || record.snapshot_of !== live.ref) continue
    if (record.name_label === TEMP_SNAPSHOT_NAME) {
      // One still in progress (another run of the same VM) has a current operation: not a leftover.
      if (Object.keys(record.current_operations).length === 0) leftovers.push({ ref, record })
      continue
    }
    const identity = identityOf(record.other_config, jobId, vmUuid)
    if (identity === undefined) continue
    if (typeof identity === 'string') ignored.push({ uuid: record.uuid, reason: identity })
    else jobVms.set(ref, identity)
  }

  for (const [ref, identity] of jobVms) {
    const record = (await reader.get('VM', ref)) as VmRecord
    const disks = await readVmDisks(reader, record)
    const problems: string[] = []
    for (const disk of disks) {
      seenVdis.add(disk.ref)
      const problem = await checkVdi(reader, disk.record, jobId, vmUuid, identity, ref)
      if (problem !== undefined) problems.push(`disk ${disk.record.uuid}: ${problem}`)
    }
    if (problems.length > 0) {
      ignored.push({ uuid: record.uuid, reason: problems.join('; ') })
      continue
    }
    const vdis = disks.map(({ ref: vdiRef, record: vdi }) => ({ ref: vdiRef, record: vdi }))
    const exported = isExported(record.other_config) && vdis.every((d) => isExported(d.record.other_config))
    snapshots.push({ ...identity, vm: { ref, record }, vdis, exported })
  }

  // Snapshot VDIs of the live disks that no job snapshot VM holds: bare (their VM was destroyed).
  const bare = new Map<string, { identity: Identity; vdis: { ref: XapiRef; record: VdiRecord }[] }>()
  for (const disk of live.disks) {
    for (const { ref, record } of await reader.getAll('VDI', disk.record.snapshots)) {
      if (seenVdis.has(ref)) continue
      const identity = identityOf(record.other_config, jobId, vmUuid)
      if (identity === undefined) continue
      if (typeof identity === 'string') {
        ignored.push({ uuid: record.uuid, reason: identity })
        continue
      }
      const problem = await checkVdi(reader, record, jobId, vmUuid, identity, undefined)
      if (problem !== undefined) {
        ignored.push({ uuid: record.uuid, reason: problem })
        continue
      }
      const key = `${identity.timeMs} ${identity.scheduleId}`
      const group = bare.get(key) ?? { identity, vdis: [] }
      group.vdis.push({ ref, record })
      bare.set(key, group)
    }
  }
  for (const { identity, vdis } of bare.values())
    snapshots.push({
      ...identity,
      vm: undefined,
      vdis,
      exported: vdis.every((d) => isExported(d.record.other_config)),
    })

  snapshots.sort((a, b) => a.timeMs - b.timeMs)
  return { snapshots, ignored, leftovers }
}

/** Why `vdi` cannot be a disk of the job snapshot `owner` (or a bare one when owner is undefined). */
async function checkVdi(
  reader: RecordReader,
  vdi: VdiRecord,
  jobId: string,
  vmUuid: string,
  expected: Identity,
  owner: XapiRef | undefined,
): Promise<string | undefined> {
  if (!vdi.is_a_snapshot) return 'not a snapshot VDI'
  const identity = identityOf(vdi.other_config, jobId, vmUuid)
  if (identity === undefined) return 'not tagged with this job and VM'
  if (typeof identity === 'string') return identity
  if (!sameIdentity(identity, expected)) return 'its datetime or schedule differs from its snapshot VM'
  const holders = new Set<XapiRef>()
  for (const { record: vbd } of await reader.getAll('VBD', vdi.VBDs)) holders.add(vbd.VM)
  if (holders.size > 1) return `held by ${holders.size} VMs`
  const [holder] = holders
  if (holder !== owner)
    return owner === undefined ? 'held by a VM that is not a snapshot of this job' : 'held by another VM'
  return undefined
}
