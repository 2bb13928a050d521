// `xapi-backup health-check` as a user runs it, in a child process against a simulator: a backup
// made by the engine is restored on an SR, booted without networks and destroyed once its guest
// reports its tools (exit 0, `--json`'s one line, the JSONL log's root task); a guest that never
// does fails in one error line naming the timeout (exit 1); either way nothing is left on the pool.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { isOneErrorLine, runCliProcess } from './cli-support.ts'

const MiB = 1024 * 1024

describe('xapi-backup health-check', () => {
  let dir: string
  let sim: RunningSimulator
  let backupId: string
  let srUuid: string
  const remoteDir = (): string => join(dir, 'remote')
  /** VMs and VDIs on the pool: what a health check must leave as it found. */
  const census = (): string =>
    JSON.stringify([
      [...sim.db.all('VM')].length,
      [...sim.db.all('VDI')].length,
      [...sim.db.all('VBD')].length,
    ])
  const check = (extra: readonly string[], env: Record<string, string | undefined> = {}) =>
    runCliProcess(
      [
        'health-check',
        remoteDir(),
        backupId,
        '--xapi',
        sim.url,
        '--user',
        sim.username,
        '--sr',
        srUuid,
        ...extra,
      ],
      { env: { XAPI_PASSWORD: sim.password, ...env }, timeoutMs: 180_000 },
    )

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-health-check-'))
    await mkdir(remoteDir())
    sim = await startSimulator({
      pool: {
        name: 'health check pool',
        hosts: [{ name: 'host-1', address: '127.0.0.1' }],
        srs: [{ name: 'Local', type: 'ext' }],
        networks: [{ name: 'net', bridge: 'xenbr0' }],
        vms: [
          {
            name: 'web',
            powerState: 'Running',
            disks: [{ name: 'web system', sizeBytes: 8 * MiB, content: { seed: 1, allocatedFraction: 0.5 } }],
            networks: ['net'],
          },
        ],
      },
    })
    const vmUuid = sim.db.get('VM', sim.pool.vms.get('web') ?? '').uuid as string
    srUuid = sim.db.get('SR', sim.pool.srs.get('Local') ?? '').uuid as string
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
    const job = join(dir, 'job.yaml')
    await writeFile(
      job,
      [
        'job:',
        '  id: 7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f',
        '  name: e2e',
        '  mode: delta',
        '  remotes: { id: nas }',
        `  vms: { id: ${vmUuid} }`,
        "  settings: { '': { exportRetention: 2 } }",
        `remotes: { nas: { url: "file://${remoteDir()}" } }`,
        'schedule: { id: s }',
        `xapis: { pool: { url: "${sim.url}", credentials: { username: ${sim.username}, password: { file: password } } } }`,
        '',
      ].join('\n'),
    )
    await runBackupFromFile(job, { sink: new MemorySink() })
    const listed = await listVmBackups(await openLocalRemote(remoteDir()), vmUuid, { useCache: false })
    const newest = listed.backups.at(-1)
    assert.ok(newest !== undefined, 'a backup to check')
    backupId = newest.id
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(
    'passes for a guest that reports its tools: exit 0, --json, the log, nothing left',
    { timeout: 240_000 },
    async () => {
      const before = census()
      const log = join(dir, 'pass.jsonl')
      const run = await check(['--json', '--log', log])
      assert.equal(run.status, 0, run.stderr + run.stdout)
      const line = JSON.parse(run.stdout) as { healthy?: unknown; backupId?: unknown; vm?: unknown }
      assert.equal(line.healthy, true)
      assert.equal(line.backupId, backupId)
      assert.match(String(line.vm), /^[0-9a-f-]{36}$/)
      assert.equal(census(), before, 'the restored VM and its disks are gone')
      const events = (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; message?: string; parentId?: string })
      const root = events.find((e) => e.event === 'task.start' && e.parentId === undefined)
      assert.equal(root?.message, 'VM Backup Health Check')
      for (const step of ['health check', 'transfer', 'vmstart'])
        assert.ok(
          events.some((e) => e.event === 'task.start' && e.message === step),
          `a ${step} task in the log`,
        )
      assert.doesNotMatch(await readFile(log, 'utf8'), new RegExp(sim.password), 'no password in the log')
    },
  )

  it(
    'fails in one line when the guest never reports its tools; nothing left',
    { timeout: 240_000 },
    async () => {
      sim.setGuestBehaviour({ pvDrivers: false })
      try {
        const before = census()
        const run = await check(['--timeout', '3s'])
        assert.equal(run.status, 1, run.stderr + run.stdout)
        assert.ok(isOneErrorLine(run.stderr), run.stderr)
        assert.match(run.stderr, /HEALTH_CHECK_TIMEOUT/)
        assert.match(run.stderr, /PV drivers|guest tools/i)
        assert.equal(census(), before, 'the restored VM and its disks are gone')
      } finally {
        sim.setGuestBehaviour({ pvDrivers: true })
      }
    },
  )

  it('refuses a password on the command line and a bad timeout (exit 2)', { timeout: 120_000 }, async () => {
    const withPassword = await check(['--password', 'x'])
    assert.equal(withPassword.status, 2, withPassword.stderr)
    assert.match(withPassword.stderr, /--password is refused/)
    const badTimeout = await check(['--timeout', 'soon'])
    assert.equal(badTimeout.status, 2, badTimeout.stderr)
    assert.ok(isOneErrorLine(badTimeout.stderr), badTimeout.stderr)
  })
})
