// A backup job end to end through the app's real path (issue 10 acceptance): a run description
// file, XAPI logins, /export_raw_vdi and /export over HTTP from the simulator, a local remote.
// Ten delta runs with guest writes between them and exportRetention 3: after every run, every
// kept backup's disks read back through their chains equal the VM's disks at that snapshot.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { resolveInVmDir, vmDir } from '../../src/repository/layout.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'

const MiB = 1024 * 1024
const HOUR = 3_600_000
const JOB_ID = '4f0b3c6e-5d1a-4b8e-9c2f-0a1b2c3d4e5f'
const SCHEDULE = 'c0ffee00-1111-4222-8333-444455556666'

const POOL: PoolDescription = {
  name: 'job pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 1024 * MiB }],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'web',
      powerState: 'Running',
      disks: [
        { name: 'web system', sizeBytes: 16 * MiB, content: { seed: 1, allocatedFraction: 0.5 } },
        { name: 'web data', sizeBytes: 8 * MiB, content: { seed: 2, allocatedFraction: 0.75 } },
        { name: '[NOBAK] web scratch', sizeBytes: 4 * MiB, content: { seed: 3, allocatedFraction: 1 } },
      ],
      networks: ['net'],
    },
    { name: 'empty', powerState: 'Halted', disks: [], networks: [] },
  ],
}

async function sha256(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of chunks) hash.update(chunk)
  return hash.digest('hex')
}

describe('backup job end to end (run description → simulator → local remote)', () => {
  let dir: string
  let sim: RunningSimulator
  let offsetMs = 0
  const clock: Clock = {
    now: () => systemClock.now() + offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  let remoteDir: string
  let descriptionPath: string
  const vmUuid = (name: string): string => sim.db.get('VM', sim.pool.vms.get(name) ?? '').uuid as string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-job-'))
    remoteDir = join(dir, 'remote')
    await mkdir(remoteDir)
    await mkdir(join(dir, 'sim'))
    sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim'), clock })
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
    descriptionPath = join(dir, 'job.yaml')
    await writeFile(
      descriptionPath,
      [
        'job:',
        `  id: ${JOB_ID}`,
        '  name: nightly',
        '  mode: delta',
        '  type: backup',
        '  remotes: { id: nas }',
        `  vms: { id: { __or: [${vmUuid('web')}, ${vmUuid('empty')}] } }`,
        '  settings:',
        "    '': { exportRetention: 3 }",
        'remotes:',
        `  nas: { url: "file://${remoteDir}" }`,
        'schedule:',
        `  id: ${SCHEDULE}`,
        'xapis:',
        '  pool:',
        `    url: ${sim.url}`,
        '    credentials:',
        `      username: ${sim.username}`,
        '      password: { file: password }',
        '',
      ].join('\n'),
    )
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(
    'ten delta runs with guest writes: every kept backup restores to its snapshot, retention 3 holds',
    { timeout: 600_000 },
    async () => {
      const remote = await openLocalRemote(remoteDir)
      const expected = new Map<number, Map<string, string>>() // backup timestamp → live VDI uuid → sha256
      const web = vmUuid('web')
      for (let run = 1; run <= 10; run++) {
        if (run > 1) sim.guestWrite(web, { seed: run, changedFraction: 0.25 })
        offsetMs += HOUR
        const sink = new MemorySink()
        const result = await runBackupFromFile(descriptionPath, { sink, clock }).catch(
          (error: unknown) => error,
        )
        const root = sink.trees().roots[0]
        assert.ok(root !== undefined, 'a job log')
        // The diskless VM is skipped (XO: "no disks found"), web succeeds: the job fails only on failures.
        assert.ok(!(result instanceof Error) || /skipped/.test(result.message), String(result))

        // What the newest snapshot holds is what this run's backup must restore to.
        const snapshots = (sim.db.get('VM', sim.pool.vms.get('web') ?? '').snapshots as string[]).map((ref) =>
          sim.db.get('VM', ref),
        )
        const time = (record: { snapshot_time?: unknown }): string =>
          typeof record.snapshot_time === 'string' ? record.snapshot_time : ''
        const newest = snapshots.sort((a, b) => time(b).localeCompare(time(a)))[0]
        assert.ok(newest !== undefined, `run ${run}: a snapshot`)
        const digests = new Map<string, string>()
        for (const vbd of newest.VBDs as string[]) {
          const record = sim.db.get('VBD', vbd)
          if (record.type !== 'Disk') continue
          const vdi = sim.db.get('VDI', record.VDI as string)
          const live = sim.db.get('VDI', vdi.snapshot_of as string).uuid as string
          digests.set(live, await sim.storage.digest(record.VDI as string))
        }
        const { backups } = await listVmBackups(remote, web, { useCache: false })
        assert.equal(backups.length, Math.min(run, 3), `run ${run}: exportRetention 3`)
        const latest = backups.at(-1)
        assert.ok(latest !== undefined, 'latest !== undefined')
        expected.set(latest.metadata.timestamp, digests)

        for (const backup of backups) {
          const { metadata } = backup
          if (metadata.mode === 'full') assert.fail(`run ${run}: ${backup.id} is not a delta backup`)
          const want = expected.get(metadata.timestamp)
          assert.ok(want !== undefined, `run ${run}: backup ${backup.id} is one this test saw written`)
          const vdis = Object.values(metadata.vdis).map((v) => String(v.uuid))
          assert.equal(vdis.length, 2, `run ${run}: the [NOBAK] disk is not backed up`)
          for (const [ref, path] of Object.entries(metadata.vhds)) {
            const chain = await VhdChain.open(resolveInVmDir(vmDir(web), path, 'vhds'), (p) =>
              openRemoteFile(remote, p),
            )
            try {
              const liveUuid = path.split('/')[2] ?? ''
              assert.equal(
                await sha256(chainToRaw(chain)),
                want.get(liveUuid),
                `run ${run}: ${backup.id} disk ${ref}`,
              )
            } finally {
              await chain.close()
            }
          }
        }
      }
      // Chains were merged, not rewritten: the oldest kept backup is a key.
      const { backups } = await listVmBackups(remote, web, { useCache: false })
      const oldest = backups[0]
      assert.ok(oldest?.metadata.mode === 'delta', "oldest?.metadata.mode === 'delta'")
      assert.deepEqual(Object.values(oldest.metadata.isVhdDifferencing ?? {}), [false, false])
    },
  )
})
