// The simulator, run descriptions and after-fault checks of test/integration/engine-job-faults.test.ts:
// one simulated pool whose clock the test moves an hour before each run, one VM and one local
// remote per scenario, and the checks every fault is followed by — every listed backup restores to
// the snapshot it came from, the job's snapshots stay within retention with nothing leaked, no lock
// is left, `backups check` finds nothing.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { MIGRATION_OPERATIONS } from '../../src/engine/vm-run/migration-block.ts'
import { KEY } from '../../src/engine/vm-run/snapshot-attributes.ts'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import type { Finding } from '../../src/repository/check.ts'
import { VM_BACKUPS_DIR, resolveInVmDir, vmDir } from '../../src/repository/layout.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import type { TaskTreeNode } from '../../src/tasks/index.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'

const MiB = 1024 * 1024
const HOUR = 3_600_000

/** The VMs, one per scenario; each has a 16 MiB and an 8 MiB disk with seeded content. */
export const FAULT_VMS = ['cut', 'enospc', 'killed', 'interrupted'] as const
export type FaultVm = (typeof FAULT_VMS)[number]

const POOL: PoolDescription = {
  name: 'faults pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 1024 * MiB }],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: FAULT_VMS.map((name, i) => ({
    name,
    powerState: 'Running' as const,
    disks: [
      { name: `${name} system`, sizeBytes: 16 * MiB, content: { seed: 10 * i + 1, allocatedFraction: 0.5 } },
      { name: `${name} data`, sizeBytes: 8 * MiB, content: { seed: 10 * i + 2, allocatedFraction: 0.75 } },
    ],
    networks: ['net'],
  })),
}

/** One scenario's job: its VM, its remote folder and its run description file. */
export interface FaultJob {
  readonly vm: FaultVm
  readonly vmUuid: string
  readonly jobId: string
  readonly remoteDir: string
  readonly description: string
  readonly snapshotRetention: number
  readonly exportRetention: number
}

/** How an in-process run ended: the VM task's status and error, the job's. */
export interface InProcessRun {
  readonly error: unknown
  readonly vmStatus: string | undefined
  readonly vmError: unknown
  readonly root: TaskTreeNode | undefined
}

const sha256 = async (chunks: AsyncIterable<Uint8Array>): Promise<string> => {
  const hash = createHash('sha256')
  for await (const chunk of chunks) hash.update(chunk)
  return hash.digest('hex')
}

/** The shared simulator and the moving clock (its offset is what the CLI children are given). */
export class FaultsFixture {
  readonly dir: string
  readonly sim: RunningSimulator
  readonly clock: Clock
  #offset: { ms: number }
  /** sha256 of every snapshot VDI seen, by VDI uuid: what a backup of it must restore to. */
  readonly digests = new Map<string, string>()

  private constructor(dir: string, sim: RunningSimulator, clock: Clock, offset: { ms: number }) {
    this.dir = dir
    this.sim = sim
    this.clock = clock
    this.#offset = offset
  }

  static async start(dir: string): Promise<FaultsFixture> {
    const offset = { ms: 0 }
    const clock: Clock = {
      now: () => systemClock.now() + offset.ms,
      sleep: (ms, signal) => systemClock.sleep(ms, signal),
    }
    await mkdir(join(dir, 'sim'), { recursive: true })
    const sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim'), clock })
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
    return new FaultsFixture(dir, sim, clock, offset)
  }

  get offsetMs(): number {
    return this.#offset.ms
  }

  /** The next run happens an hour later (snapshot names, backup names and lock leases follow). */
  nextHour(): void {
    this.#offset.ms += HOUR
  }

  vmRef(vm: FaultVm): string {
    return this.sim.pool.vms.get(vm) ?? assert.fail(`no VM ${vm}`)
  }

  vmUuid(vm: FaultVm): string {
    return this.sim.db.get('VM', this.vmRef(vm)).uuid as string
  }

  /** Writes the run description of a delta job backing up `vm` to its own local remote. */
  async job(
    vm: FaultVm,
    options: { jobId: string; exportRetention: number; snapshotRetention: number },
  ): Promise<FaultJob> {
    const remoteDir = join(this.dir, `remote-${vm}`)
    await mkdir(remoteDir, { recursive: true })
    const description = join(this.dir, `${vm}.yaml`)
    const { exportRetention, snapshotRetention } = options
    await writeFile(
      description,
      [
        'job:',
        `  id: ${options.jobId}`,
        `  name: faults ${vm}`,
        '  mode: delta',
        '  type: backup',
        '  remotes: { id: nas }',
        `  vms: { id: ${this.vmUuid(vm)} }`,
        '  settings:',
        `    '': { exportRetention: ${exportRetention}, snapshotRetention: ${snapshotRetention}, nRetriesVmBackupFailures: 0 }`,
        'remotes:',
        `  nas: { url: "file://${remoteDir}" }`,
        'schedule:',
        '  id: hourly',
        'xapis:',
        '  pool:',
        `    url: ${this.sim.url}`,
        '    credentials:',
        `      username: ${this.sim.username}`,
        '      password: { file: password }',
        '',
      ].join('\n'),
    )
    return {
      vm,
      vmUuid: this.vmUuid(vm),
      jobId: options.jobId,
      remoteDir,
      description,
      exportRetention,
      snapshotRetention,
    }
  }

  /** Runs the job in this process (runBackupFromFile, the CLI's path) on the moving clock. */
  async runInProcess(job: FaultJob): Promise<InProcessRun> {
    const sink = new MemorySink()
    const error = await runBackupFromFile(job.description, { sink, clock: this.clock }).then(
      () => undefined,
      (e: unknown) => e,
    )
    const root = sink.trees().roots[0]
    const vmTask = root?.tasks.find((c) => c.data?.type === 'VM')
    return { error, vmStatus: vmTask?.status, vmError: vmTask?.error, root }
  }

  /** Snapshot VMs of `vm` (any: the job's, temp-named leftovers, others), with their disks' VDI refs. */
  snapshotsOf(
    vm: FaultVm,
  ): { ref: string; name: string; otherConfig: Record<string, string>; vdis: string[] }[] {
    const { db } = this.sim
    return (db.get('VM', this.vmRef(vm)).snapshots as string[]).map((ref) => {
      const record = db.get('VM', ref)
      const vdis = (record.VBDs as string[])
        .map((vbd) => db.get('VBD', vbd))
        .filter((vbd) => vbd.type === 'Disk')
        .map((vbd) => vbd.VDI as string)
      return {
        ref,
        name: record.name_label as string,
        otherConfig: record.other_config as Record<string, string>,
        vdis,
      }
    })
  }

  /** Records the digest of every snapshot VDI of `vm` not seen yet (a snapshot never changes). */
  async recordSnapshotDigests(vm: FaultVm): Promise<void> {
    for (const snapshot of this.snapshotsOf(vm))
      for (const ref of snapshot.vdis) {
        const uuid = this.sim.db.get('VDI', ref).uuid as string
        if (!this.digests.has(uuid)) this.digests.set(uuid, await this.sim.storage.digest(ref))
      }
  }

  /**
   * Every backup listed on the job's remote is complete and each disk's chain reads back equal to
   * the snapshot VDI it was exported from; returns the backups' timestamps, oldest first.
   */
  async assertBackupsRestore(job: FaultJob, when: string): Promise<number[]> {
    const remote = await openLocalRemote(job.remoteDir)
    const { backups, invalid } = await listVmBackups(remote, job.vmUuid, { useCache: false })
    assert.deepEqual(invalid, [], `${when}: every metadata file reads`)
    for (const backup of backups) {
      assert.deepEqual(backup.missingFiles, [], `${when}: ${backup.id} is complete`)
      const { metadata } = backup
      if (metadata.mode !== 'delta') assert.fail(`${when}: ${backup.id} is not a delta backup`)
      assert.equal(Object.keys(metadata.vhds).length, 2, `${when}: ${backup.id} has both disks`)
      for (const [ref, path] of Object.entries(metadata.vhds)) {
        const snapshotVdi = String(metadata.vdis[ref]?.uuid)
        const want = this.digests.get(snapshotVdi)
        assert.ok(want !== undefined, `${when}: ${backup.id} disk ${ref} comes from a snapshot this test saw`)
        const chain = await VhdChain.open(resolveInVmDir(vmDir(job.vmUuid), path, 'vhds'), (p) =>
          openRemoteFile(remote, p),
        )
        try {
          assert.equal(await sha256(chainToRaw(chain)), want, `${when}: ${backup.id} disk ${path} restores`)
        } finally {
          await chain.close()
        }
      }
    }
    return backups.map((b) => b.timestampMs)
  }

  /**
   * The VM's snapshots are all the job's, tagged and named (no temp-named leftover, no foreign
   * one), at most `max` of them; no snapshot VDI of its disks is held by anything else than a
   * snapshot VM (no bare or leaked VDI); migration is not left blocked.
   */
  assertSnapshotsClean(job: FaultJob, max: number, when: string): number {
    const snapshots = this.snapshotsOf(job.vm)
    for (const s of snapshots) {
      assert.equal(s.otherConfig[KEY.job], job.jobId, `${when}: snapshot ${s.name} is the job's`)
      assert.match(s.name, /^\[XO Backup /, `${when}: snapshot ${s.ref} has its final name`)
    }
    assert.ok(snapshots.length <= max, `${when}: ${snapshots.length} snapshots, at most ${max}`)
    const { db } = this.sim
    const held = new Set(snapshots.flatMap((s) => s.vdis))
    for (const vbd of db.get('VM', this.vmRef(job.vm)).VBDs as string[]) {
      const live = db.get('VBD', vbd).VDI as string
      for (const snap of db.get('VDI', live).snapshots as string[]) {
        assert.ok(
          held.has(snap),
          `${when}: snapshot VDI ${JSON.stringify(db.get('VDI', snap).uuid)} is not leaked`,
        )
        assert.equal(
          (db.get('VDI', snap).VBDs as string[]).length,
          1,
          `${when}: snapshot VDI has no extra VBD`,
        )
      }
    }
    const blocked = db.get('VM', this.vmRef(job.vm)).blocked_operations as Record<string, string>
    for (const op of MIGRATION_OPERATIONS)
      assert.equal(blocked[op], undefined, `${when}: ${op} is not left blocked`)
    return snapshots.length
  }

  /** The lock directories (and break/stale leftovers) in the remote's VM folder parent. */
  async lockEntries(job: FaultJob): Promise<string[]> {
    const names = await readdir(join(job.remoteDir, VM_BACKUPS_DIR)).catch(() => [] as string[])
    return names.filter((n) => n.includes('.lock'))
  }

  /** `backups check <remote>` (the CLI, dry run): exit code and the findings check reports. */
  async check(job: FaultJob): Promise<{ code: number; out: string; findings: readonly Finding[] }> {
    const run = await cli('backups', 'check', job.remoteDir)
    const report = await checkVmBackups(await openLocalRemote(job.remoteDir), job.vmUuid)
    return { code: run.code, out: run.out + run.err, findings: report.findings }
  }

  /** XAPI tasks still pending in the pool (an export the client left open keeps its task pending). */
  /**
   * Destroys the tasks still pending that are not in `before` (refs): those of a process killed
   * between its `task.create` and the request that would have ended the task. XAPI destroys a
   * session's tasks when the session goes; a killed process's session only expires, which this
   * models. Returns what it destroyed.
   */
  dropTasksOfKilledRun(before: ReadonlySet<string>): string[] {
    const dropped: string[] = []
    for (const [ref, record] of this.sim.db.all('task')) {
      if (record.status !== 'pending' || before.has(ref)) continue
      this.sim.db.destroy('task', ref)
      dropped.push(`${JSON.stringify(record.name_label)} (${ref})`)
    }
    return dropped
  }

  /** The refs of the tasks pending now. */
  pendingTaskRefs(): Set<string> {
    return new Set(
      this.sim.db
        .all('task')
        .filter(([, record]) => record.status === 'pending')
        .map(([ref]) => ref),
    )
  }

  pendingTasks(): string[] {
    return this.sim.db
      .all('task')
      .filter(([, record]) => record.status === 'pending')
      .map(([ref, record]) => `${JSON.stringify(record.name_label)} (${ref})`)
  }
}
