// `xapi-backup demo` (what `npm start` runs): the whole product in one minute against the built-in
// simulator — a delta job twice with guest writes between, a full job once, the repository listed
// and checked, one disk chain restored to a raw file and verified against the VM's disk.
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { chainToRaw } from '../formats/vhd/conversions.ts'
import { VhdChain } from '../formats/vhd/vhd-chain.ts'
import { checkVmBackups } from '../repository/check.ts'
import { resolveInVmDir, vmDir } from '../repository/layout.ts'
import { listVmBackups } from '../repository/listing.ts'
import { openRemoteFile } from '../repository/remote-file.ts'
import type { TaskSink } from '../tasks/events.ts'
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
  readonly restoredFile: string
  readonly restoredMatches: boolean
}

function description(
  sim: RunningSimulator,
  options: { id: string; name: string; mode: string; vms: string; remote: string },
): string {
  return [
    '# A run description (the seed\'s "Run description object"); see README "Run a backup job".',
    'job:',
    `  id: ${options.id}`,
    `  name: ${options.name}`,
    `  mode: ${options.mode}`,
    '  type: backup',
    '  remotes: { id: demo-remote }',
    `  vms: ${options.vms}`,
    '  settings:',
    "    '': { exportRetention: 3, snapshotRetention: 1 }",
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

async function sha256(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of chunks) hash.update(chunk)
  return hash.digest('hex')
}

/**
 * Runs the demo in `dir` (emptied first): starts the simulator with the demo pool, writes the run
 * descriptions and the password file there, runs the delta job twice (guest writes between) and
 * the full job once, lists and checks the repository, restores one disk chain to a raw file and
 * compares it with the snapshot's disk. The simulator is always stopped before returning.
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
    let restoredFile = ''
    let restoredMatches = false
    try {
      hooks.say('\n== the repository ==')
      const db = sim.db.get('VM', sim.pool.vms.get('db-01') ?? '')
      for (const name of ['web-01', 'db-01', 'build-agent']) {
        const uuid = sim.db.get('VM', sim.pool.vms.get(name) ?? '').uuid as string
        const { backups } = await listVmBackups(repository.remote, uuid, { useCache: false })
        const report = await checkVmBackups(repository.remote, uuid)
        hooks.say(`${name}: ${backups.map((b) => `${b.id} (${b.metadata.mode})`).join(', ')}`)
        hooks.say(
          `  check: ${report.findings.length === 0 ? 'no findings' : `${report.findings.length} finding(s)`}`,
        )
      }
      // Restore db-01's system disk from its newest backup and compare with the snapshot it came from.
      const uuid = db.uuid as string
      const newest = (await listVmBackups(repository.remote, uuid, { useCache: false })).backups.at(-1)
      if (newest?.metadata.mode === 'delta') {
        const [ref, path] = Object.entries(newest.metadata.vhds)[0] ?? []
        const snapshotVdi = (newest.metadata.vdis[ref ?? ''] as { uuid?: string } | undefined)?.uuid
        if (path !== undefined && snapshotVdi !== undefined) {
          const vhd = resolveInVmDir(vmDir(uuid), path, 'vhds')
          const chain = await VhdChain.open(vhd, (p) => openRemoteFile(repository.remote, p))
          restoredFile = join(dir, 'restored-db-01-disk.raw')
          try {
            await pipeline(Readable.from(chainToRaw(chain)), createWriteStream(restoredFile))
          } finally {
            await chain.close()
          }
          const { createReadStream } = await import('node:fs')
          const restored = await sha256(createReadStream(restoredFile))
          const snapshotRef = [...sim.db.all('VDI')].find(([, r]) => r.uuid === snapshotVdi)?.[0] ?? ''
          restoredMatches = restored === (await sim.storage.digest(snapshotRef))
          hooks.say(
            `\n== restore ==\n${vhd} → ${restoredFile}\n  sha256 ${restored.slice(0, 16)}…: ${restoredMatches ? 'equal to the snapshot disk it was backed up from' : 'DIFFERENT from the snapshot disk'}`,
          )
        }
      }
    } finally {
      await repository.close()
    }
    return { dir, remoteUrl: `file://${remoteDir}`, logs, runs, restoredFile, restoredMatches }
  } finally {
    await sim.close()
  }
}
