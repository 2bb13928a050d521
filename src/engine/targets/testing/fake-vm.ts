// A VM whose disks change between runs, and the VM run's call sequence, for the target tests: each
// snapshot gets new VDI uuids and its exact contents, so a test can read every kept backup back
// and compare it with what the VM held at that run.
import type { BlockSource } from '../../../formats/block-source.ts'
import { chainToRaw } from '../../../formats/vhd/conversions.ts'
import {
  applyExtents,
  bufferBlockSource,
  collect,
  createRandom,
  randomExtents,
} from '../../../formats/vhd/testing/random-disk.ts'
import { VhdChain } from '../../../formats/vhd/vhd-chain.ts'
import type { Remote } from '../../../remotes/remote.ts'
import { vmDir } from '../../../repository/layout.ts'
import { listVmBackups } from '../../../repository/listing.ts'
import { openRemoteFile } from '../../../repository/remote-file.ts'
import { newUuid } from '../../../shared/ids.ts'
import type { VdiRecord, VmRecord } from '../../../xapi/types.ts'
import type { BackupTarget, DeltaExport, VmRunContext } from '../../backup-target.ts'
import type { Task } from '../../../tasks/task.ts'

export const MiB = 1024 * 1024
export const BLOCK = 2 * MiB
export const JOB_ID = '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b'
export const SCHEDULE_ID = '6f1d2b3c-4d5e-4f60-9b7c-8d9e0f1a2b3c'
export const DAY = 86_400_000

/** A VM record with every field typed (XAPI sends more). */
export function vmRecord(uuid: string, extra: Partial<VmRecord> = {}): VmRecord {
  return {
    uuid,
    allowed_operations: [],
    current_operations: {},
    name_label: 'web-01',
    name_description: '',
    power_state: 'Running',
    is_a_template: false,
    is_default_template: false,
    is_a_snapshot: false,
    is_control_domain: false,
    snapshot_of: 'OpaqueRef:NULL',
    snapshots: [],
    snapshot_time: '19700101T00:00:00Z',
    parent: 'OpaqueRef:NULL',
    resident_on: 'OpaqueRef:NULL',
    tags: [],
    other_config: {},
    blocked_operations: {},
    xenstore_data: {},
    VBDs: [],
    VIFs: [],
    suspend_VDI: 'OpaqueRef:NULL',
    guest_metrics: 'OpaqueRef:NULL',
    metrics: 'OpaqueRef:NULL',
    memory_static_min: 0,
    memory_static_max: 0,
    memory_dynamic_min: 0,
    memory_dynamic_max: 0,
    VCPUs_max: 1,
    VCPUs_at_startup: 1,
    domid: -1,
    ha_restart_priority: '',
    ...extra,
  }
}

/** A VDI record of `virtualSize` bytes. */
export function vdiRecord(uuid: string, virtualSize: number, extra: Partial<VdiRecord> = {}): VdiRecord {
  return {
    uuid,
    allowed_operations: [],
    current_operations: {},
    name_label: 'disk',
    name_description: '',
    SR: 'OpaqueRef:sr',
    VBDs: [],
    virtual_size: virtualSize,
    physical_utilisation: 0,
    type: 'user',
    sharable: false,
    read_only: false,
    managed: true,
    missing: false,
    other_config: {},
    sm_config: {},
    xenstore_data: {},
    is_a_snapshot: true,
    snapshot_of: 'OpaqueRef:NULL',
    snapshots: [],
    snapshot_time: '19700101T00:00:00Z',
    tags: [],
    cbt_enabled: false,
    ...extra,
  }
}

/** One disk of a snapshot: its VDI uuid and the bytes it holds. */
export interface SnapshotDisk {
  readonly liveVdiUuid: string
  readonly snapshotVdiUuid: string
  readonly content: Uint8Array
}

/** A snapshot of the fake VM. */
export interface FakeSnapshot {
  readonly uuid: string
  readonly disks: readonly SnapshotDisk[]
}

/** A VM with disks of the given sizes, written by a seeded "guest" between snapshots. */
export class FakeVm {
  readonly uuid: string
  readonly record: VmRecord
  readonly #disks: { liveVdiUuid: string; content: Uint8Array }[]
  readonly #random: () => number

  constructor(seed: number, sizes: readonly number[], uuid: string = newUuid()) {
    this.uuid = uuid
    this.record = vmRecord(uuid)
    this.#random = createRandom(seed)
    this.#disks = sizes.map((size) => ({ liveVdiUuid: newUuid(), content: new Uint8Array(size) }))
    this.write(6)
  }

  /** The live VDI uuids, in disk order. */
  get liveVdiUuids(): string[] {
    return this.#disks.map((d) => d.liveVdiUuid)
  }

  /** The guest writes about `count` random extents on each disk. */
  write(count: number): void {
    for (const disk of this.#disks)
      applyExtents(this.#random, disk.content, randomExtents(this.#random, disk.content.length, count, BLOCK))
  }

  /** Takes a snapshot: new VDI uuids, a copy of every disk. */
  snapshot(): FakeSnapshot {
    return {
      uuid: newUuid(),
      disks: this.#disks.map((d) => ({
        liveVdiUuid: d.liveVdiUuid,
        snapshotVdiUuid: newUuid(),
        content: Uint8Array.from(d.content),
      })),
    }
  }
}

/** The blocks of `content` that differ from `base` (all non-empty blocks without a base). */
function changedSource(content: Uint8Array, base: Uint8Array | undefined): BlockSource {
  if (base === undefined) return bufferBlockSource(content, BLOCK)
  const changed: number[] = []
  for (let i = 0; i * BLOCK < content.length; i++) {
    const a = Buffer.from(content.subarray(i * BLOCK, (i + 1) * BLOCK))
    if (!a.equals(base.subarray(i * BLOCK, (i + 1) * BLOCK))) changed.push(i)
  }
  return bufferBlockSource(content, BLOCK, changed)
}

/**
 * The export of `snapshot`: each disk whose live VDI has a base in `bases` (live uuid → base
 * snapshot disk) is a delta over it, the others are full.
 */
export function deltaExportOf(
  vm: FakeVm,
  snapshot: FakeSnapshot,
  bases: ReadonlyMap<string, SnapshotDisk>,
): DeltaExport {
  const ref = (i: number) => `OpaqueRef:snap-vdi-${i}`
  return {
    vmSnapshot: vmRecord(snapshot.uuid, { is_a_snapshot: true }),
    vbds: {},
    vdis: Object.fromEntries(
      snapshot.disks.map((d, i) => [ref(i), vdiRecord(d.snapshotVdiUuid, d.content.length)]),
    ),
    vifs: {},
    disks: snapshot.disks.map((d, i) => {
      const base = bases.get(d.liveVdiUuid)
      return {
        snapshotVdiRef: ref(i),
        liveVdiUuid: d.liveVdiUuid,
        baseSnapshotVdiUuid: base?.snapshotVdiUuid,
        source: changedSource(d.content, base?.content),
      }
    }),
  }
}

/** The context of one run of the delta (or full) job at `timestampMs`. */
export function runContext(vm: FakeVm, timestampMs: number, mode: 'full' | 'delta' = 'delta'): VmRunContext {
  return { job: { id: JOB_ID, name: 'nightly', mode }, scheduleId: SCHEDULE_ID, vm: vm.record, timestampMs }
}

/**
 * One delta run of `vm` to `target` the way the VM run calls the Writer API: beforeBackup, the
 * guest writes, base selection over the previous snapshot (checkBaseVdis), snapshot, prepare,
 * transfer, cleanup under an `export` task, afterBackup always. Returns the snapshot taken.
 */
export async function runDelta(
  target: BackupTarget,
  vm: FakeVm,
  previous: FakeSnapshot | undefined,
  timestampMs: number,
  task: Task,
): Promise<FakeSnapshot> {
  const context = runContext(vm, timestampMs)
  await target.beforeBackup(context, task)
  try {
    const candidates = new Map(previous?.disks.map((d) => [d.snapshotVdiUuid, d.liveVdiUuid]) ?? [])
    await target.checkBaseVdis?.(context, candidates, task)
    vm.write(3)
    const snapshot = vm.snapshot()
    const bases = new Map(
      (previous?.disks ?? []).filter((d) => candidates.has(d.snapshotVdiUuid)).map((d) => [d.liveVdiUuid, d]),
    )
    const isFull = bases.size < snapshot.disks.length
    await task.run(
      { message: 'export', data: { type: 'remote', id: target.id, isFull } },
      async (exportTask) => {
        await target.prepare?.(context, { isFull }, exportTask)
        await target.transfer?.(context, deltaExportOf(vm, snapshot, bases), exportTask)
        await target.cleanup?.(context, exportTask)
      },
    )
    return snapshot
  } finally {
    await target.afterBackup(context, task)
  }
}

/** Every listed delta backup of `vmUuid`, read back: timestamp → live VDI uuid → raw content. */
export async function readBackDeltas(
  remote: Remote,
  vmUuid: string,
): Promise<Map<number, Map<string, Uint8Array>>> {
  const out = new Map<number, Map<string, Uint8Array>>()
  const { backups } = await listVmBackups(remote, vmUuid, { useCache: false })
  for (const backup of backups) {
    if (backup.metadata.mode !== 'delta') continue
    const disks = new Map<string, Uint8Array>()
    for (const relative of Object.values(backup.metadata.vhds)) {
      const live = relative.split('/')[2] ?? ''
      const chain = await VhdChain.open(`${vmDir(vmUuid)}/${relative}`, (p) => openRemoteFile(remote, p))
      disks.set(live, await collect(chainToRaw(chain)))
    }
    out.set(backup.timestampMs, disks)
  }
  return out
}

/** `inner`, logging each mutating call as `<operation> <path>` (deleteMany: one line per path) into `log`. */
export function recordingRemote(inner: Remote, log: string[]): Remote {
  const mutating = new Set(['write', 'delete', 'deleteMany', 'rename'])
  return new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property)
      if (typeof value !== 'function') return value
      const method = value as (...args: unknown[]) => unknown
      return (...args: unknown[]) => {
        if (typeof property === 'string' && mutating.has(property)) {
          const paths = Array.isArray(args[0]) ? (args[0] as string[]) : [String(args[0])]
          for (const path of paths) log.push(`${property === 'deleteMany' ? 'delete' : property} ${path}`)
        }
        return method.apply(target, args)
      }
    },
  })
}

/**
 * One full run of `vm` to `target` at `timestampMs` with `xva` as the export of snapshot
 * `snapshotUuid` (a new one by default): beforeBackup, runFull under `export`, afterBackup always.
 */
export async function runFullBackup(
  target: BackupTarget,
  vm: FakeVm,
  timestampMs: number,
  xva: AsyncIterable<Uint8Array>,
  task: Task,
  snapshotUuid: string = newUuid(),
): Promise<void> {
  const context = runContext(vm, timestampMs, 'full')
  await target.beforeBackup(context, task)
  try {
    await task.run(
      { message: 'export', data: { type: 'remote', id: target.id, isFull: true } },
      (exportTask) =>
        target.runFull?.(
          context,
          { vmSnapshot: vmRecord(snapshotUuid, { is_a_snapshot: true }), stream: xva },
          exportTask,
        ) ?? Promise.resolve(undefined),
    )
  } finally {
    await target.afterBackup(context, task)
  }
}

/** An XVA-like byte stream (its bytes are opaque to a remote target), and whether it was read. */
export function xvaStream(
  seed: number,
  size = 96 * 1024,
): { bytes: Uint8Array; stream: AsyncIterable<Uint8Array>; read: () => boolean } {
  const bytes = new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff)
  let read = false
  return {
    bytes,
    read: () => read,
    stream: (async function* () {
      read = true
      for (let at = 0; at < size; at += 32 * 1024)
        yield await Promise.resolve(bytes.subarray(at, at + 32 * 1024))
    })(),
  }
}
