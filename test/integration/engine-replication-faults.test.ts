// Replication faults (issue 11 acceptance): an import cut mid-stream, an SR that runs out of space
// and a session that expires during an import each fail the run cleanly — the source VM untouched,
// no replica that looks complete while it is not, nothing startable left — and the next run
// succeeds with a replica equal to the VM and no disk left behind on the SR.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'

const MiB = 1024 * 1024
const HOUR = 3_600_000
const SCHEDULE = 'c0ffee00-1111-4222-8333-444455556666'

const POOL: PoolDescription = {
  name: 'replication faults',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Local', type: 'ext' },
    { name: 'Replicas', type: 'ext' },
  ],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'web',
      powerState: 'Running',
      disks: [
        {
          name: 'web system',
          sizeBytes: 16 * MiB,
          sr: 'Local',
          content: { seed: 1, allocatedFraction: 0.5 },
        },
        { name: 'web data', sizeBytes: 8 * MiB, sr: 'Local', content: { seed: 2, allocatedFraction: 0.75 } },
      ],
      networks: ['net'],
    },
  ],
}

type Row = Record<string, unknown>

describe('replication faults: clean failure, nothing half-made, the next run succeeds', () => {
  let dir: string
  let sim: RunningSimulator
  let offsetMs = 0
  const clock: Clock = {
    now: () => systemClock.now() + offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const web = (): string => sim.pool.vms.get('web') ?? ''
  const replicaSr = (): string => sim.pool.srs.get('Replicas') ?? ''
  const uuidOf = (cls: string, ref: string): string => sim.db.get(cls, ref).uuid as string

  async function writeJob(file: string, jobId: string, mode: 'full' | 'delta'): Promise<void> {
    await writeFile(
      file,
      [
        'job:',
        `  id: ${jobId}`,
        `  name: ${mode}`,
        `  mode: ${mode}`,
        '  type: backup',
        `  srs: { id: ${uuidOf('SR', replicaSr())} }`,
        `  vms: { id: ${uuidOf('VM', web())} }`,
        '  settings:',
        "    '': { copyRetention: 2 }",
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
  }

  async function diskDigests(ref: string): Promise<string[]> {
    const vbds = (sim.db.get('VM', ref).VBDs as string[])
      .map((v) => sim.db.get('VBD', v))
      .filter((v) => v.type === 'Disk')
      .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))
    return Promise.all(vbds.map((v) => sim.storage.digest(v.VDI as string)))
  }

  /** VMs on the replica SR that are not snapshots: [ref, record]. */
  function replicaVms(jobId: string): [string, Row][] {
    return [...sim.db.all('VM')].filter(([ref, r]) => {
      const other = r.other_config as Record<string, string>
      return other['xo:backup:job'] === jobId && r.is_a_snapshot !== true && ref !== web()
    })
  }

  const complete = (r: Row): boolean =>
    (r.other_config as Record<string, string>)['xo:backup:sr'] !== undefined

  function orphanVdis(): string[] {
    return [...sim.db.all('VDI')]
      .filter(([, r]) => r.SR === replicaSr() && (r.VBDs as string[]).length === 0)
      .map(([, r]) => r.uuid as string)
  }

  async function run(file: string): Promise<{ error: unknown; log: string }> {
    offsetMs += HOUR
    const sink = new MemorySink()
    const error = await runBackupFromFile(file, { sink, clock }).then(
      () => undefined,
      (e: unknown) => e,
    )
    return { error, log: JSON.stringify(sink.events) }
  }

  async function assertGoodRun(file: string, jobId: string, what: string): Promise<void> {
    sim.faults.reset()
    const expected = await diskDigests(web())
    const { error, log } = await run(file)
    assert.equal(error, undefined, `${what}: the next run succeeds: ${String(error)} ${log.slice(0, 2000)}`)
    const vms = replicaVms(jobId)
    assert.ok(
      vms.every(([, r]) => complete(r)),
      `${what}: no incomplete copy left after a good run`,
    )
    const newest = vms
      .sort(([, a], [, b]) =>
        String((a.other_config as Row)['xo:backup:datetime']).localeCompare(
          String((b.other_config as Row)['xo:backup:datetime']),
        ),
      )
      .at(-1)
    assert.ok(newest !== undefined, `${what}: a replica`)
    assert.deepEqual(await diskDigests(newest[0]), expected, `${what}: the replica equals the VM`)
    assert.deepEqual(orphanVdis(), [], `${what}: no orphan disk on the replica SR`)
  }

  function assertNothingStartable(jobId: string, what: string): void {
    for (const [, r] of replicaVms(jobId)) {
      const blocked = r.blocked_operations as Record<string, string>
      assert.ok(blocked.start !== undefined, `${what}: every copy has its start blocked`)
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replication-faults-'))
    await mkdir(join(dir, 'sim'))
    sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim'), clock })
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('DR: an XVA import cut mid-stream, then an SR without space', { timeout: 600_000 }, async () => {
    const job = 'd0000000-0000-4000-8000-000000000001'
    const file = join(dir, 'dr.yaml')
    await writeJob(file, job, 'full')
    await assertGoodRun(file, job, 'DR run 1')
    const before = replicaVms(job).length

    sim.guestWrite(web(), { seed: 11, changedFraction: 0.25 })
    sim.faults.cutStream('/import', 3 * MiB)
    const cut = await run(file)
    assert.ok(cut.error !== undefined, 'the cut run fails')
    assert.equal(replicaVms(job).filter(([, r]) => complete(r)).length, before, 'no new complete replica')
    assertNothingStartable(job, 'after the cut')
    assert.deepEqual(orphanVdis(), [], 'XAPI removed what the failed import made')
    await assertGoodRun(file, job, 'DR after the cut')

    sim.guestWrite(web(), { seed: 12, changedFraction: 0.25 })
    const sr = replicaSr()
    sim.db.update('SR', sr, { physical_size: Number(sim.db.get('SR', sr).physical_utilisation) + MiB })
    const full = await run(file)
    assert.ok(full.error !== undefined, 'the run onto a full SR fails')
    assert.match(full.log, /SR_BACKEND_FAILURE_44/, 'the log names the SR error')
    assertNothingStartable(job, 'after SR full')
    assert.deepEqual(orphanVdis(), [], 'nothing left by the import onto a full SR')
    sim.db.update('SR', sr, { physical_size: 0 })
    await assertGoodRun(file, job, 'DR after SR full')
  })

  it(
    'CR: an in-place import cut, an SR without space, a session expired mid-import',
    { timeout: 600_000 },
    async (t) => {
      const job = 'c0000000-0000-4000-8000-000000000002'
      const file = join(dir, 'cr.yaml')
      await writeJob(file, job, 'delta')
      await assertGoodRun(file, job, 'CR run 1')
      sim.guestWrite(web(), { seed: 21, changedFraction: 0.25 })
      await assertGoodRun(file, job, 'CR run 2')

      // Cut during the in-place update: the replica is marked incomplete before its disks change.
      sim.guestWrite(web(), { seed: 22, changedFraction: 0.5 })
      sim.faults.cutStream('/import_raw_vdi', MiB)
      const cut = await run(file)
      assert.ok(cut.error !== undefined, 'the cut run fails')
      assert.ok(
        replicaVms(job).every(([, r]) => !complete(r) || r.power_state === 'Halted'),
        'a replica whose disks were half-updated does not claim to be complete',
      )
      assertNothingStartable(job, 'after the cut')
      await assertGoodRun(file, job, 'CR after the cut')

      sim.guestWrite(web(), { seed: 23, changedFraction: 0.5 })
      const sr = replicaSr()
      sim.db.update('SR', sr, { physical_size: Number(sim.db.get('SR', sr).physical_utilisation) + MiB })
      const full = await run(file)
      assert.ok(full.error !== undefined, 'the run onto a full SR fails')
      assert.match(full.log, /SR_BACKEND_FAILURE_44/, 'the log names the SR error')
      assertNothingStartable(job, 'after SR full')
      sim.db.update('SR', sr, { physical_size: 0 })
      await assertGoodRun(file, job, 'CR after SR full')

      // A session that expires while a disk is being imported: the import fails, the run fails cleanly.
      sim.guestWrite(web(), { seed: 24, changedFraction: 0.5 })
      sim.faults.slowStream('/import_raw_vdi', 4 * MiB)
      const running = run(file)
      const deadline = Date.now() + 60_000
      // The disk import runs in a task the engine names ("VDI import"); /import_raw_vdi runs in it.
      const importing = (): boolean =>
        [...sim.db.all('task')].some(
          ([, t]) => t.status === 'pending' && /import/i.test(t.name_label as string),
        )
      while (!importing()) {
        assert.ok(Date.now() < deadline, 'a disk import task shows up within a minute')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      sim.faults.expireSessions()
      const expired = await running
      t.diagnostic(
        `session expired mid-import: ${expired.error === undefined ? 'the import finished' : `the run failed: ${expired.error instanceof Error ? expired.error.message : '?'}`}`,
      )
      if (expired.error === undefined) {
        // XAPI may let an upload that was authenticated at its start finish: then the copy must be good.
        await assertGoodRun(file, job, 'CR with the session expired (the import finished)')
      } else {
        assertNothingStartable(job, 'after the session expired')
        await assertGoodRun(file, job, 'CR after the session expired')
      }
    },
  )

  it(
    'an SR of job.srs that no pool has: its task fails, the other targets still run, the job fails',
    { timeout: 300_000 },
    async () => {
      const missing = '00000000-0000-4000-8000-00000000dead'
      const remoteDir = join(dir, 'missing-sr-remote')
      await mkdir(remoteDir)
      const write = async (file: string, withRemote: boolean) => {
        await writeFile(
          file,
          [
            'job:',
            '  id: e0000000-0000-4000-8000-000000000003',
            '  name: missing',
            '  mode: delta',
            `  srs: { id: ${missing} }`,
            ...(withRemote ? ['  remotes: { id: nas }'] : []),
            `  vms: { id: ${uuidOf('VM', web())} }`,
            "  settings: { '': { copyRetention: 1, exportRetention: 1 } }",
            ...(withRemote ? [`remotes: { nas: { url: "file://${remoteDir}" } }`] : []),
            `schedule: { id: ${SCHEDULE} }`,
            `xapis: { pool: { url: "${sim.url}", credentials: { username: ${sim.username}, password: { file: password } } } }`,
            '',
          ].join('\n'),
        )
      }
      const alone = join(dir, 'missing-alone.yaml')
      await write(alone, false)
      const first = await run(alone)
      assert.match(String(first.error), /no target left: SR 00000000-0000-4000-8000-00000000dead/)
      assert.match(first.log, /"message":"get SR record"/)
      const withRemote = join(dir, 'missing-with-remote.yaml')
      await write(withRemote, true)
      const second = await run(withRemote)
      assert.match(String(second.error), /SR 00000000-0000-4000-8000-00000000dead of job\.srs not found/)
      const { backups } = await listVmBackups(await openLocalRemote(remoteDir), uuidOf('VM', web()), {
        useCache: false,
      })
      assert.equal(backups.length, 1, 'the remote was written all the same')
    },
  )
})
