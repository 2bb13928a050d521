// A simulator with two small VMs, a local remote, and the backup jobs of the app (delta and full)
// run against them through run description files, recording what each backup must restore to:
// the digest of every disk of the snapshot it was taken from, by userdevice (tests of restore).
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { openLocalRemote } from '../../../remotes/local/local-remote.ts'
import type { Remote } from '../../../remotes/remote.ts'
import type { BackupListing } from '../../../repository/listing.ts'
import { listVmBackups } from '../../../repository/listing.ts'
import type { Clock } from '../../../shared/clock.ts'
import { systemClock } from '../../../shared/clock.ts'
import type { PoolDescription, RunningSimulator } from '../../../simulator/index.ts'
import { startSimulator } from '../../../simulator/index.ts'
import { MemorySink } from '../../../tasks/sinks/memory-sink.ts'
import type { TaskSink } from '../../../tasks/events.ts'
import { HttpXapiClient } from '../../../xapi/http-xapi-client.ts'

/** One mebibyte. */
export const MiB = 1024 * 1024
const HOUR = 3_600_000

/** Ids of the two jobs (UUIDs: they become folder names). */
export const DELTA_JOB = '4f0b3c6e-5d1a-4b8e-9c2f-0a1b2c3d4e5f'
export const FULL_JOB = '6b2e1f7c-3d4e-4f60-9bac-1d2e3f4a5b6c'

/** `web` runs (two disks backed up, one [NOBAK], two VIFs, one on VLAN 20); `app` is halted (full backups). */
export const RESTORE_POOL: PoolDescription = {
  name: 'restore pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Local', type: 'ext', sizeBytes: 4096 * MiB },
    { name: 'Other', type: 'ext', sizeBytes: 4096 * MiB },
  ],
  networks: [
    { name: 'net', bridge: 'xenbr0' },
    { name: 'storage', bridge: 'xapi1', vlan: 20 },
  ],
  vms: [
    {
      name: 'web',
      description: 'the web server',
      powerState: 'Running',
      tags: ['prod', 'web'],
      otherConfig: { owner: 'ops' },
      disks: [
        { name: 'web system', sizeBytes: 8 * MiB, content: { seed: 1, allocatedFraction: 0.5 } },
        { name: 'web data', sizeBytes: 6 * MiB, content: { seed: 2, allocatedFraction: 0.75 } },
        { name: '[NOBAK] web scratch', sizeBytes: 2 * MiB, content: { seed: 3, allocatedFraction: 1 } },
      ],
      networks: ['net', 'storage'],
    },
    {
      name: 'app',
      description: 'the app server',
      powerState: 'Halted',
      tags: ['app'],
      disks: [{ name: 'app system', sizeBytes: 6 * MiB, content: { seed: 4, allocatedFraction: 0.5 } }],
      networks: ['net'],
    },
  ],
}

/** What a backup must restore to: per userdevice of the backed-up VM, the sha256 of the disk. */
export type ExpectedDisks = ReadonlyMap<string, string>

/** The refs of every VM, VDI, VBD and VIF of the pool (what a failed restore must leave unchanged). */
export interface PoolObjects {
  readonly VM: readonly string[]
  readonly VDI: readonly string[]
  readonly VBD: readonly string[]
  readonly VIF: readonly string[]
}

/** The running fixture. */
export interface RestoreFixture {
  readonly sim: RunningSimulator
  readonly dir: string
  readonly remoteDir: string
  readonly remote: Remote
  readonly clock: Clock
  /** A logged-in client on the simulator (closed by close()). */
  readonly xapi: HttpXapiClient
  /** The backup timestamp (metadata.timestamp) → the disks it must restore to. */
  readonly expected: Map<number, ExpectedDisks>
  vmRef(name: string): string
  vmUuid(name: string): string
  srRef(name: string): string
  /** Runs the job (`delta` on web, `full` on app) once, an hour after the previous run, and records what it backed up. */
  runJob(kind: 'delta' | 'full'): Promise<void>
  /** The VM's backups, oldest first (no cache written). */
  backups(vm: string): Promise<readonly BackupListing[]>
  poolObjects(): PoolObjects
  /** sha256 of every file of the remote by path (what a restore must not change). */
  remoteDigests(): Promise<Map<string, string>>
  close(): Promise<void>
}

function description(
  sim: RunningSimulator,
  remoteDir: string,
  job: { id: string; name: string; mode: string; vm: string; settings: string },
): string {
  return [
    'job:',
    `  id: ${job.id}`,
    `  name: ${job.name}`,
    `  mode: ${job.mode}`,
    '  type: backup',
    '  remotes: { id: nas }',
    `  vms: { id: ${job.vm} }`,
    '  settings:',
    `    '': ${job.settings}`,
    'remotes:',
    `  nas: { url: "file://${remoteDir}" }`,
    'schedule:',
    '  id: c0ffee00-1111-4222-8333-444455556666',
    'xapis:',
    '  pool:',
    `    url: ${sim.url}`,
    '    credentials:',
    `      username: ${sim.username}`,
    '      password: { file: password }',
    '',
  ].join('\n')
}

async function digestsOf(sim: RunningSimulator, vm: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const vbd of sim.db.get('VM', vm).VBDs as string[]) {
    const record = sim.db.get('VBD', vbd)
    if (record.type === 'Disk')
      out.set(record.userdevice as string, await sim.storage.digest(record.VDI as string))
  }
  return out
}

/** sha256 of every file under `root`, by path relative to it. */
export async function digestFolder(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name)
      if (entry.isDirectory()) await walk(path)
      else
        out.set(
          relative(root, path),
          createHash('sha256')
            .update(await readFile(path))
            .digest('hex'),
        )
    }
  }
  await walk(root)
  return out
}

/** The newest snapshot of `vm` (by snapshot_time), or undefined. */
function newestSnapshot(sim: RunningSimulator, vm: string): string | undefined {
  const time = (ref: string): string => {
    const value = sim.db.get('VM', ref).snapshot_time
    return typeof value === 'string' ? value : ''
  }
  return [...(sim.db.get('VM', vm).snapshots as string[])].sort((a, b) => time(b).localeCompare(time(a)))[0]
}

/** Runs the backup job of a run description file (the app's runBackupFromFile, given by the test: engine code may not import app). */
export type RunJobFile = (
  path: string,
  options: { readonly sink: TaskSink; readonly clock: Clock },
) => Promise<unknown>

/**
 * Starts the fixture: the simulator with RESTORE_POOL, a local remote, the two run descriptions
 * (`deltaSettings` / `fullSettings` as YAML flow maps of the job's '' settings) that `runJobFile` runs.
 */
export async function startRestoreFixture(
  runJobFile: RunJobFile,
  options: { deltaSettings?: string; fullSettings?: string } = {},
): Promise<RestoreFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'restore-'))
  const remoteDir = join(dir, 'remote')
  await mkdir(remoteDir)
  await mkdir(join(dir, 'sim'))
  let offsetMs = 0
  const clock: Clock = {
    now: () => systemClock.now() + offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const sim = await startSimulator({ pool: RESTORE_POOL, dataDir: join(dir, 'sim'), clock })
  await writeFile(join(dir, 'password'), `${sim.password}\n`)
  const vmRef = (name: string): string => sim.pool.vms.get(name) ?? ''
  const vmUuid = (name: string): string => sim.db.get('VM', vmRef(name)).uuid as string
  const files = { delta: join(dir, 'delta.yaml'), full: join(dir, 'full.yaml') }
  await writeFile(
    files.delta,
    description(sim, remoteDir, {
      id: DELTA_JOB,
      name: 'nightly',
      mode: 'delta',
      vm: vmUuid('web'),
      settings: options.deltaSettings ?? '{ exportRetention: 4, fullInterval: 3 }',
    }),
  )
  await writeFile(
    files.full,
    description(sim, remoteDir, {
      id: FULL_JOB,
      name: 'weekly',
      mode: 'full',
      vm: vmUuid('app'),
      settings: options.fullSettings ?? '{ exportRetention: 2 }',
    }),
  )
  const remote = await openLocalRemote(remoteDir)
  const xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password, clock })
  await xapi.connect()
  const expected = new Map<number, ExpectedDisks>()
  const backups = async (vm: string): Promise<readonly BackupListing[]> =>
    (await listVmBackups(remote, vmUuid(vm), { useCache: false })).backups
  return {
    sim,
    dir,
    remoteDir,
    remote,
    clock,
    xapi,
    expected,
    vmRef,
    vmUuid,
    srRef: (name) => sim.db.select('SR', (r) => r.name_label === name)[0] ?? '',
    async runJob(kind) {
      offsetMs += HOUR
      const vm = kind === 'delta' ? 'web' : 'app'
      // A halted VM does not change during its run: its disks now are what the backup holds.
      const before = kind === 'full' ? await digestsOf(sim, vmRef(vm)) : undefined
      const sink = new MemorySink()
      await runJobFile(files[kind], { sink, clock })
      const newest = (await backups(vm)).at(-1)
      if (newest === undefined) throw new Error(`${kind} run: no backup listed`)
      const snapshot = newestSnapshot(sim, vmRef(vm))
      const digests = before ?? (snapshot === undefined ? undefined : await digestsOf(sim, snapshot))
      if (digests === undefined) throw new Error(`${kind} run: no snapshot to read the backed-up disks from`)
      expected.set(newest.metadata.timestamp, digests)
    },
    backups,
    poolObjects: () => ({
      VM: sim.db
        .all('VM')
        .map(([ref]) => ref)
        .sort(),
      VDI: sim.db
        .all('VDI')
        .map(([ref]) => ref)
        .sort(),
      VBD: sim.db
        .all('VBD')
        .map(([ref]) => ref)
        .sort(),
      VIF: sim.db
        .all('VIF')
        .map(([ref]) => ref)
        .sort(),
    }),
    remoteDigests: () => digestFolder(remoteDir),
    async close() {
      await xapi.disconnect().catch(() => undefined)
      await sim.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
