// `xapi-backup demo` (what `npm start` runs): the whole product in one minute against the built-in
// simulator — a delta job (to a remote and, continuous replication, to another SR) twice with guest
// writes between, a full job once, the repository listed and checked, the replica shown, and the
// newest backup of db-01 restored as a new VM whose disks are compared with the snapshot's.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { restoreBackup, restoreTaskProperties } from '../engine/restore/restore-backup.ts'
import type { Remote } from '../remotes/remote.ts'
import { checkVmBackups } from '../repository/check.ts'
import { listVmBackups } from '../repository/listing.ts'
import type { TaskSink } from '../tasks/events.ts'
import { runRootTask } from '../tasks/task.ts'
import { HttpXapiClient } from '../xapi/http-xapi-client.ts'
import { DEMO_POOL, startSimulator } from '../simulator/index.ts'
import type { RunningSimulator } from '../simulator/index.ts'
import { openRepository } from './open-repository.ts'
import { runBackupFromFile } from './run-backup.ts'

const DELTA_JOB = '5a1d0e6b-2c3d-4e5f-8a9b-0c1d2e3f4a5b'
const FULL_JOB = '6b2e1f7c-3d4e-4f60-9bac-1d2e3f4a5b6c'

/** What the demo reports as it goes (the CLI prints it) and where it puts the sinks of each run. */
export interface DemoHooks {
  readonly say: (line: string) => void
  /**
   * A sink for the run named `name` (e.g. a live view), closed by `done`, which gives the run's
   * status (`success`, `failure`, `skipped`, `interrupted`) as its task tree says.
   */
  readonly runSink: (name: string) => Promise<{ sink: TaskSink; done: () => Promise<string> }>
}

/** What the demo left on disk. */
export interface DemoResult {
  readonly dir: string
  readonly remoteUrl: string
  readonly logs: readonly string[]
  /** Each run's name and status; a run that could not start is a `failure` with its error. */
  readonly runs: readonly { readonly name: string; readonly status: string; readonly error?: string }[]
  /** The VM restored from db-01's newest backup: each disk equal to the snapshot's (sha256)? */
  readonly restored:
    { readonly vmUuid: string; readonly backupId: string; readonly disksMatch: boolean } | undefined
}

/**
 * Restores the newest backup of VM `name` into the pool's default SR (under a root `restore` task,
 * the seed's tree, in the sink of a run named `restore`) and compares each restored disk with the
 * snapshot disk it was backed up from.
 */
async function restoreNewest(
  sim: RunningSimulator,
  remote: Remote,
  name: string,
  hooks: DemoHooks,
  runs: { name: string; status: string; error?: string }[],
): Promise<DemoResult['restored']> {
  const uuid = sim.db.get('VM', sim.pool.vms.get(name) ?? '').uuid as string
  const backup = (await listVmBackups(remote, uuid, { useCache: false })).backups.at(-1)
  if (backup?.metadata.mode !== 'delta') return undefined
  const xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
  const { sink, done } = await hooks.runSink('restore')
  try {
    const srRef = sim.pool.srs.get('Local storage') ?? ''
    const srUuid = sim.db.get('SR', srRef).uuid as string
    let made: { vmRef: string; vmUuid: string } | undefined
    let error: string | undefined
    try {
      made = await runRootTask({ sink }, restoreTaskProperties(backup, srUuid), (task) =>
        restoreBackup({ xapi, remote, backup, srRef, remoteName: 'demo-remote' }, task),
      )
    } catch (e) {
      error = e instanceof Error ? e.message : String(e)
    } finally {
      runs.push({ name: 'restore', status: await done(), ...(error === undefined ? {} : { error }) })
    }
    if (made === undefined) return undefined
    const byUuid = new Map([...sim.db.all('VDI')].map(([ref, r]) => [r.uuid as string, ref]))
    let disksMatch = true
    const restoredVbds = (sim.db.get('VM', made.vmRef).VBDs as string[])
      .map((v) => sim.db.get('VBD', v))
      .filter((v) => v.type === 'Disk')
    for (const [ref, vdi] of Object.entries(backup.metadata.vdis)) {
      const vbd = Object.values(backup.metadata.vbds).find((b) => b.VDI === ref)
      const restoredVbd = restoredVbds.find((v) => v.userdevice === vbd?.userdevice)
      const snapshotRef = byUuid.get(String(vdi.uuid))
      if (restoredVbd === undefined || snapshotRef === undefined) {
        disksMatch = false
        continue
      }
      const want = await sim.storage.digest(snapshotRef)
      const got = await sim.storage.digest(restoredVbd.VDI as string)
      disksMatch &&= want === got
      hooks.say(
        `disk ${String(vdi.name_label)}: sha256 ${got.slice(0, 16)}…: ${want === got ? 'equal to the snapshot disk it was backed up from' : 'DIFFERENT from the snapshot disk'}`,
      )
    }
    const vm = sim.db.get('VM', made.vmRef)
    hooks.say(
      `restored VM: ${vm.name_label as string} (${made.vmUuid}), tags ${(vm.tags as string[]).join(', ')}`,
    )
    return { vmUuid: made.vmUuid, backupId: backup.id, disksMatch }
  } finally {
    await xapi.disconnect()
  }
}

function description(
  sim: RunningSimulator,
  options: { id: string; name: string; mode: string; vms: string; remote: string; sr?: string },
): string {
  return [
    '# A run description (the seed\'s "Run description object"); see README "Run a backup job".',
    'job:',
    `  id: ${options.id}`,
    `  name: ${options.name}`,
    `  mode: ${options.mode}`,
    '  type: backup',
    '  remotes: { id: demo-remote }',
    ...(options.sr === undefined ? [] : [`  srs: { id: ${options.sr} }   # continuous replication`]),
    `  vms: ${options.vms}`,
    '  settings:',
    `    '': { exportRetention: 3, snapshotRetention: 1${options.sr === undefined ? '' : ', copyRetention: 2'} }`,
    'remotes:',
    `  demo-remote: { url: "file://${options.remote}" }`,
    'schedule:',
    '  id: demo-schedule',
    'xapis:',
    '  demo-pool:',
    `    url: ${sim.url}`,
    '    credentials:',
    `      username: ${sim.username}`,
    '      password: { file: xapi-password }',
    '',
  ].join('\n')
}

/**
 * Runs the demo in `dir` (emptied first): starts the simulator with the demo pool, writes the run
 * descriptions and the password file there, runs the delta job twice (guest writes between) and
 * the full job once, lists and checks the repository, restores db-01's newest backup as a new VM
 * and compares its disks with the snapshot's. The simulator is always stopped before returning.
 */
export async function runDemo(dir: string, hooks: DemoHooks): Promise<DemoResult> {
  await rm(dir, { recursive: true, force: true })
  const remoteDir = join(dir, 'remote')
  await mkdir(remoteDir, { recursive: true })
  await mkdir(join(dir, 'simulator'))
  hooks.say(`demo folder: ${dir}`)
  const sim = await startSimulator({ pool: DEMO_POOL, dataDir: join(dir, 'simulator') })
  try {
    hooks.say(
      `simulator: ${sim.url} (pool "${DEMO_POOL.name}", ${DEMO_POOL.vms.length} VMs with seeded disks)`,
    )
    await writeFile(join(dir, 'xapi-password'), `${sim.password}\n`)
    await chmod(join(dir, 'xapi-password'), 0o600)
    const deltaFile = join(dir, 'delta-job.yaml')
    const fullFile = join(dir, 'full-job.yaml')
    await writeFile(
      deltaFile,
      description(sim, {
        id: DELTA_JOB,
        name: 'demo-delta',
        mode: 'delta',
        vms: '{ tags: { __or: [[production]] } }',
        remote: remoteDir,
        sr: sim.db.get('SR', sim.pool.srs.get('Shared NFS') ?? '').uuid as string,
      }),
    )
    await writeFile(
      fullFile,
      description(sim, {
        id: FULL_JOB,
        name: 'demo-full',
        mode: 'full',
        vms: '{ name_label: build-agent }',
        remote: remoteDir,
      }),
    )
    const logs: string[] = []
    const runs: { name: string; status: string; error?: string }[] = []
    const run = async (name: string, file: string): Promise<void> => {
      const { sink, done } = await hooks.runSink(name)
      let error: string | undefined
      try {
        // A failed job's outcome is in its log; an error before the job started is not.
        await runBackupFromFile(file, { sink }).catch((e: unknown) => {
          error = e instanceof Error ? e.message : String(e)
        })
      } finally {
        const status = await done()
        runs.push({ name, status, ...(error === undefined ? {} : { error }) })
      }
      logs.push(name)
    }
    hooks.say('\n== delta job, run 1 (a key: every disk in full) ==')
    await run('delta-1', deltaFile)
    for (const name of ['web-01', 'db-01']) {
      const ref = sim.pool.vms.get(name)
      if (ref !== undefined) sim.guestWrite(ref, { seed: 7, changedFraction: 0.05 })
    }
    hooks.say('\n== guests wrote 5% of their blocks; delta job, run 2 (only the changed blocks) ==')
    await run('delta-2', deltaFile)
    hooks.say('\n== full job (one XVA of a halted VM) ==')
    await run('full-1', fullFile)

    const repository = await openRepository(`file://${remoteDir}`)
    let restored: DemoResult['restored'] = undefined
    try {
      hooks.say('\n== the repository ==')
      for (const name of ['web-01', 'db-01', 'build-agent']) {
        const uuid = sim.db.get('VM', sim.pool.vms.get(name) ?? '').uuid as string
        const { backups } = await listVmBackups(repository.remote, uuid, { useCache: false })
        const report = await checkVmBackups(repository.remote, uuid)
        hooks.say(`${name}: ${backups.map((b) => `${b.id} (${b.metadata.mode})`).join(', ')}`)
        hooks.say(
          `  check: ${report.findings.length === 0 ? 'no findings' : `${report.findings.length} finding(s)`}`,
        )
      }
      hooks.say('\n== the replica (continuous replication to "Shared NFS") ==')
      for (const [, vm] of sim.db.all('VM')) {
        const other = vm.other_config as Record<string, string>
        if (vm.is_a_snapshot !== true && other['xo:backup:sr'] !== undefined)
          hooks.say(
            `${vm.name_label as string}: tags ${(vm.tags as string[]).join(', ')}; start blocked: ${String((vm.blocked_operations as Record<string, string>).start !== undefined)}`,
          )
      }
      // Restore db-01's newest backup as a new VM on the pool and compare its disks with the snapshot's.
      hooks.say('\n== restore ==')
      restored = await restoreNewest(sim, repository.remote, 'db-01', hooks, runs)
    } finally {
      await repository.close()
    }
    return { dir, remoteUrl: `file://${remoteDir}`, logs, runs, restored }
  } finally {
    await sim.close()
  }
}
