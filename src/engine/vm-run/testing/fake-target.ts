// A BackupTarget for tests of the VM run: records every Writer API call, stores what it reads
// (each disk's blocks, so a chain can be rebuilt and compared with the VM's disk), accepts a base
// only if it stored that snapshot VDI, and fails on demand at any step.
import { defaultSettings } from '../../settings-schema.ts'
import type { VmBackupSettings } from '../../settings-schema.ts'
import type { Task } from '../../../tasks/task.ts'
import type { BackupTarget, DeltaExport, TransferResult, VmRunContext } from '../../backup-target.ts'

/** One disk as a fake target stored it. */
export interface StoredDisk {
  readonly liveVdiUuid: string
  readonly snapshotVdiUuid: string
  readonly baseSnapshotVdiUuid: string | undefined
  readonly virtualSize: number
  readonly blockSize: number
  readonly blocks: ReadonlyMap<number, Buffer>
}

/** One backup as a fake target stored it. */
export interface StoredBackup {
  readonly timestampMs: number
  readonly vmSnapshotUuid: string
  readonly disks: readonly StoredDisk[]
  /** Full mode: the bytes of the stream. */
  readonly xvaBytes?: number
}

/** A step of the Writer API a fake target can be told to fail at. */
export type FakeStep =
  'beforeBackup' | 'checkBaseVdis' | 'prepare' | 'transfer' | 'cleanup' | 'runFull' | 'afterBackup'

/** Options of a fake target. */
export interface FakeTargetOptions {
  readonly id: string
  readonly kind?: 'remote' | 'SR'
  readonly settings?: VmBackupSettings
  /** Throws this error at these steps. */
  readonly failAt?: Partial<Record<FakeStep, Error>>
  /** Refuses these base snapshot VDI uuids in checkBaseVdis, even if stored. */
  readonly refuse?: (baseUuid: string) => boolean
  /** Called at the start of transfer/runFull (e.g. to look at the pool mid-run). */
  readonly onTransfer?: (context: VmRunContext) => Promise<void> | void
}

/** The fake target; `calls` lists `<step>` in call order, `backups` what it stored. */
export class FakeTarget implements BackupTarget {
  readonly kind: 'remote' | 'SR'
  readonly id: string
  readonly settings: VmBackupSettings
  readonly calls: string[] = []
  readonly backups: StoredBackup[] = []
  /** isFull as given to each prepare. */
  readonly prepared: boolean[] = []
  /** Base snapshot VDI uuids checkBaseVdis refuses even when stored (tests may change it between runs). */
  refuse: (baseUuid: string) => boolean
  readonly #options: FakeTargetOptions
  readonly #stored = new Set<string>()

  constructor(options: FakeTargetOptions) {
    this.#options = options
    this.id = options.id
    this.kind = options.kind ?? 'remote'
    this.settings = options.settings ?? { ...defaultSettings(), exportRetention: 2 }
    this.refuse = options.refuse ?? (() => false)
  }

  #step(step: FakeStep): void {
    this.calls.push(step)
    const error = this.#options.failAt?.[step]
    if (error !== undefined) throw error
  }

  beforeBackup(): Promise<void> {
    this.#step('beforeBackup')
    return Promise.resolve()
  }

  checkBaseVdis(_context: VmRunContext, candidates: Map<string, string>): Promise<void> {
    this.#step('checkBaseVdis')
    for (const base of [...candidates.keys()])
      if (!this.#stored.has(base) || this.refuse(base)) candidates.delete(base)
    return Promise.resolve()
  }

  prepare(_context: VmRunContext, input: { readonly isFull: boolean }): Promise<void> {
    this.#step('prepare')
    this.prepared.push(input.isFull)
    return Promise.resolve()
  }

  async transfer(context: VmRunContext, deltaExport: DeltaExport, task: Task): Promise<TransferResult> {
    this.#step('transfer')
    await this.#options.onTransfer?.(context)
    return task.run(
      { message: 'transfer' },
      async () => {
        const disks: StoredDisk[] = []
        let sizeBytes = 0
        for (const disk of deltaExport.disks) {
          const snapshotVdiUuid = deltaExport.vdis[disk.snapshotVdiRef]?.uuid ?? '?'
          if (disk.baseSnapshotVdiUuid !== undefined && !this.#stored.has(disk.baseSnapshotVdiUuid))
            throw new Error(`${this.id}: delta over ${disk.baseSnapshotVdiUuid}, which it does not have`)
          const blocks = new Map<number, Buffer>()
          for await (const block of disk.source.blocks()) {
            blocks.set(block.index, Buffer.from(block.data))
            sizeBytes += block.data.byteLength
          }
          disks.push({
            liveVdiUuid: disk.liveVdiUuid,
            snapshotVdiUuid,
            baseSnapshotVdiUuid: disk.baseSnapshotVdiUuid,
            virtualSize: disk.source.virtualSize,
            blockSize: disk.source.blockSize,
            blocks,
          })
        }
        for (const disk of disks) this.#stored.add(disk.snapshotVdiUuid)
        this.backups.push({
          timestampMs: context.timestampMs,
          vmSnapshotUuid: deltaExport.vmSnapshot.uuid,
          disks,
        })
        return { sizeBytes }
      },
      { result: (r) => ({ size: r.sizeBytes }) },
    )
  }

  cleanup(): Promise<void> {
    this.#step('cleanup')
    return Promise.resolve()
  }

  async runFull(
    context: VmRunContext,
    input: { readonly vmSnapshot: { readonly uuid: string }; readonly stream: AsyncIterable<Uint8Array> },
    task: Task,
  ): Promise<TransferResult> {
    this.#step('runFull')
    await this.#options.onTransfer?.(context)
    return task.run({ message: 'transfer' }, async () => {
      let sizeBytes = 0
      for await (const chunk of input.stream) sizeBytes += chunk.byteLength
      this.backups.push({
        timestampMs: context.timestampMs,
        vmSnapshotUuid: input.vmSnapshot.uuid,
        disks: [],
        xvaBytes: sizeBytes,
      })
      return { sizeBytes }
    })
  }

  afterBackup(): Promise<void> {
    this.#step('afterBackup')
    return Promise.resolve()
  }

  /**
   * The content of live disk `liveVdiUuid` as of backup `index` (default: the last), rebuilt from
   * the newest full disk at or before it and the deltas after; throws if a delta's base is not the
   * previous stored snapshot of that disk.
   */
  contentOf(liveVdiUuid: string, index = this.backups.length - 1): Buffer {
    const chain: StoredDisk[] = []
    for (const backup of this.backups.slice(0, index + 1)) {
      const disk = backup.disks.find((d) => d.liveVdiUuid === liveVdiUuid)
      if (disk === undefined) continue
      if (disk.baseSnapshotVdiUuid === undefined) chain.length = 0
      else if (chain.at(-1)?.snapshotVdiUuid !== disk.baseSnapshotVdiUuid)
        throw new Error(
          `${liveVdiUuid}: delta over ${disk.baseSnapshotVdiUuid} does not follow the stored chain`,
        )
      chain.push(disk)
    }
    const last = chain.at(-1)
    if (last === undefined) throw new Error(`${this.id} has no backup of disk ${liveVdiUuid}`)
    const out = Buffer.alloc(last.virtualSize)
    for (const disk of chain) for (const [i, data] of disk.blocks) data.copy(out, i * disk.blockSize)
    return out
  }
}
