// A simulator with small VMs, an XAPI client on it, and a helper that runs one VM backup under a
// root VM task and returns its outcome and task tree (tests of src/engine/vm-run).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock } from '../../../shared/clock.ts'
import { systemClock } from '../../../shared/clock.ts'
import type { PoolDescription, RunningSimulator } from '../../../simulator/index.ts'
import { startSimulator } from '../../../simulator/index.ts'
import { MemorySink } from '../../../tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../../tasks/task.ts'
import type { TaskTreeNode } from '../../../tasks/tree.ts'
import { HttpXapiClient } from '../../../xapi/http-xapi-client.ts'
import type { BackupTarget } from '../../backup-target.ts'
import type { VmBackupSettings } from '../../settings-schema.ts'
import { defaultSettings } from '../../settings-schema.ts'
import type { VmRunResult } from '../vm-run.ts'
import { runVmBackup } from '../vm-run.ts'
import type { VmRunSources } from '../sources.ts'
import { simSources } from './sim-sources.ts'

/** One mebibyte. */
export const MiB = 1024 * 1024

/** VMs of the tests: `web` runs (three disks, one `[NOBAK]`), `db` is halted (one disk), `diskless` too. */
export const VM_RUN_POOL: PoolDescription = {
  name: 'VM run pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 1024 * MiB }],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'web',
      powerState: 'Running',
      disks: [
        { name: 'web system', sizeBytes: 6 * MiB },
        { name: 'web data', sizeBytes: 4 * MiB },
        { name: '[NOBAK] web scratch', sizeBytes: 2 * MiB },
      ],
      networks: ['net'],
    },
    {
      name: 'db',
      powerState: 'Halted',
      disks: [{ name: 'db system', sizeBytes: 4 * MiB }],
      networks: ['net'],
    },
    { name: 'diskless', powerState: 'Halted', networks: ['net'] },
  ],
}

export const JOB = { id: '4f0b3c6e-5d1a-4b8e-9c2f-0a1b2c3d4e5f', name: 'nightly', mode: 'delta' } as const
export const SCHEDULE = 'c0ffee00-1111-4222-8333-444455556666'

/** A live disk of a VM. */
export interface LiveDisk {
  readonly ref: string
  readonly uuid: string
  readonly name: string
}

/** What one run gave. */
export interface RunOutcome {
  readonly result: VmRunResult | undefined
  readonly error: unknown
  /** The VM task as rebuilt from the log. */
  readonly tree: TaskTreeNode
}

/** Options of a run. */
export interface RunOptions {
  readonly vm: string
  readonly targets: readonly BackupTarget[]
  readonly settings?: Partial<VmBackupSettings>
  readonly mode?: 'full' | 'delta'
  readonly scheduleId?: string
  readonly sources?: VmRunSources
  readonly clock?: Clock
  readonly snapshotRetentionOf?: (scheduleId: string) => number
}

/** A started fixture. */
export interface VmRunFixture {
  readonly sim: RunningSimulator
  readonly xapi: HttpXapiClient
  /** Moves the simulator's clock forward (snapshot_time has one-second resolution: runs must differ). */
  advance(ms: number): void
  vmRef(name: string): string
  vmUuid(name: string): string
  /** The VM's disks in userdevice order. */
  disks(name: string): LiveDisk[]
  /** Writes `length` bytes derived from `seed` at `offset` of `vdi`, as a guest would. */
  write(vdi: string, offset: number, length: number, seed: number): void
  run(options: RunOptions): Promise<RunOutcome>
  close(): Promise<void>
}

function pattern(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) out[i] = ((seed * 31 + i * 7) % 251) + 1
  return out
}

/** Starts a simulator with VM_RUN_POOL (or `pool`; XAPI before 21.4.0 with `withoutIgnoreVdis`) and a connected client. */
export async function startVmRunFixture(
  options: { readonly pool?: PoolDescription; readonly withoutIgnoreVdis?: boolean } = {},
): Promise<VmRunFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'vm-run-'))
  // Real time plus an offset the tests move: sleeps stay real, snapshot times differ between runs.
  let offsetMs = 0
  const clock: Clock = {
    now: () => systemClock.now() + offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const sim = await startSimulator({
    pool: options.pool ?? VM_RUN_POOL,
    dataDir: dir,
    clock,
    withoutIgnoreVdis: options.withoutIgnoreVdis ?? false,
  })
  const xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
  await xapi.connect()
  const vmRef = (name: string): string => {
    const ref = sim.pool.vms.get(name)
    if (ref === undefined) throw new Error(`no VM ${name}`)
    return ref
  }
  const fixture: VmRunFixture = {
    sim,
    xapi,
    advance(ms) {
      offsetMs += ms
    },
    vmRef,
    vmUuid: (name) => sim.db.get('VM', vmRef(name)).uuid as string,
    disks(name) {
      const vbds = (sim.db.get('VM', vmRef(name)).VBDs as string[]).map((ref) => sim.db.get('VBD', ref))
      return vbds
        .filter((vbd) => vbd.type === 'Disk')
        .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))
        .map((vbd) => {
          const vdi = sim.db.get('VDI', vbd.VDI as string)
          return { ref: vbd.VDI as string, uuid: vdi.uuid as string, name: vdi.name_label as string }
        })
    },
    write(vdi, offset, length, seed) {
      sim.storage.writeBlocks(vdi, [{ offsetBytes: offset, data: pattern(seed, length) }])
    },
    async run(options) {
      const sink = new MemorySink()
      const uuid = fixture.vmUuid(options.vm)
      let result: VmRunResult | undefined
      let error: unknown
      try {
        result = await runRootTask({ sink }, { data: { type: 'VM', id: uuid } }, (task) =>
          runVmBackup(
            {
              xapi,
              job: { ...JOB, mode: options.mode ?? JOB.mode },
              scheduleId: options.scheduleId ?? SCHEDULE,
              vmUuid: uuid,
              settings: { ...defaultSettings(), ...options.settings },
              targets: options.targets,
              sources: options.sources ?? simSources(sim),
              ...(options.clock === undefined ? {} : { clock: options.clock }),
              ...(options.snapshotRetentionOf === undefined
                ? {}
                : { snapshotRetentionOf: options.snapshotRetentionOf }),
            },
            task,
          ),
        )
      } catch (e) {
        error = e
      }
      const tree = sink.trees().roots[0]
      if (tree === undefined) throw new Error('no VM task in the log')
      return { result, error, tree }
    },
    async close() {
      await xapi.disconnect()
      await sim.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  return fixture
}

/** Snapshots of VM `name` in the simulator (refs), oldest first. */
export function snapshotsOf(fixture: VmRunFixture, name: string): string[] {
  const ref = fixture.vmRef(name)
  const time = (snapshot: string): string => fixture.sim.db.get('VM', snapshot).snapshot_time as string
  return fixture.sim.db
    .select('VM', (r) => r.snapshot_of === ref && r.is_a_snapshot === true)
    .sort((a, b) => time(a).localeCompare(time(b)))
}
