// Health checks after a run (issue 11 §3): with healthCheckSr set, each target checks what it just
// wrote — the remote restores its backup, the CR target clones its replica — boots it without
// networks and waits for the guest tools. A guest that never reports them fails the VM with a
// clear reason; a VM tagged xo:no-health-check is not checked; nothing is left on the SR either way.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'

const MiB = 1024 * 1024
const HOUR = 3_600_000
const JOB = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b'
const SCHEDULE = 'c0ffee00-1111-4222-8333-444455556666'

const POOL: PoolDescription = {
  name: 'health check pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Local', type: 'ext' },
    { name: 'Replicas', type: 'ext' },
    { name: 'Checks', type: 'ext' },
  ],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'web',
      powerState: 'Running',
      disks: [
        { name: 'web system', sizeBytes: 8 * MiB, sr: 'Local', content: { seed: 1, allocatedFraction: 0.5 } },
      ],
      networks: ['net'],
    },
  ],
}

const nodesOf = (nodes: readonly TaskTreeNode[]): TaskTreeNode[] =>
  nodes.flatMap((n) => [n, ...nodesOf(n.tasks)])

describe('health checks after a run (remote restore and CR replica clone)', () => {
  let dir: string
  let sim: RunningSimulator
  let offsetMs = 0
  const clock: Clock = {
    now: () => systemClock.now() + offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const uuidOf = (cls: string, ref: string): string => sim.db.get(cls, ref).uuid as string
  const srUuid = (name: string): string => uuidOf('SR', sim.pool.srs.get(name) ?? '')

  async function writeJob(file: string, timeout: string): Promise<void> {
    await writeFile(
      file,
      [
        'job:',
        `  id: ${JOB}`,
        '  name: checked',
        '  mode: delta',
        '  type: backup',
        '  remotes: { id: nas }',
        `  srs: { id: ${srUuid('Replicas')} }`,
        `  vms: { id: ${uuidOf('VM', sim.pool.vms.get('web') ?? '')} }`,
        '  settings:',
        `    '': { exportRetention: 2, copyRetention: 2, healthCheckSr: ${srUuid('Checks')}, healthCheckTimeout: ${timeout} }`,
        'remotes:',
        `  nas: { url: "file://${join(dir, 'remote')}" }`,
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

  /** What is on the health-check SR, and the VMs that are neither the source, its snapshots nor replicas. */
  function leftovers(): string[] {
    const checks = sim.pool.srs.get('Checks')
    const vdis = [...sim.db.all('VDI')]
      .filter(([, r]) => r.SR === checks)
      .map(([, r]) => `VDI ${r.name_label as string}`)
    const vms = [...sim.db.all('VM')]
      .filter(([, r]) => r.is_control_domain !== true && r.is_a_snapshot !== true)
      .filter(([, r]) =>
        (r.tags as string[]).some(
          (t) => t.startsWith('xo:no-bak=Health Check') || t === 'restored from backup',
        ),
      )
      .map(([, r]) => `VM ${r.name_label as string}`)
    return [...vdis, ...vms]
  }

  async function run(file: string): Promise<{ error: unknown; nodes: TaskTreeNode[] }> {
    offsetMs += HOUR
    const sink = new MemorySink()
    const error = await runBackupFromFile(file, { sink, clock }).then(
      () => undefined,
      (e: unknown) => e,
    )
    return { error, nodes: nodesOf(sink.trees().roots) }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'health-check-run-'))
    await mkdir(join(dir, 'sim'))
    await mkdir(join(dir, 'remote'))
    sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim'), clock })
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('passes for a guest that reports its tools; nothing left on the SR', { timeout: 300_000 }, async () => {
    const file = join(dir, 'ok.yaml')
    await writeJob(file, '60s')
    const { error, nodes } = await run(file)
    assert.equal(error, undefined, String(error))
    const checks = nodes.filter((n) => n.message === 'health check')
    assert.equal(checks.length, 2, 'one health check per target (the remote, the SR)')
    for (const check of checks) {
      assert.equal(check.status, 'success', JSON.stringify(check.error))
      assert.ok(
        check.tasks.some((t) => t.message === 'vmstart' && t.status === 'success'),
        'a vmstart task under the health check',
      )
    }
    assert.deepEqual(leftovers(), [], 'nothing left after a passed health check')
  })

  it(
    'fails with a clear reason when the guest never reports its tools; nothing left',
    { timeout: 300_000 },
    async () => {
      sim.setGuestBehaviour({ pvDrivers: false })
      try {
        const file = join(dir, 'never.yaml')
        await writeJob(file, '2s')
        sim.guestWrite(sim.pool.vms.get('web') ?? '', { seed: 5, changedFraction: 0.25 })
        const { error, nodes } = await run(file)
        assert.ok(error !== undefined, 'the run fails')
        const vm = nodes.find((n) => n.data?.type === 'VM')
        assert.ok(vm !== undefined, 'a VM task')
        assert.equal(vm.status, 'failure')
        assert.match(JSON.stringify(vm.error), /VM_HEALTH_CHECK_FAILED/)
        assert.match(JSON.stringify(vm.error), /PV drivers|guest tools/i)
        assert.deepEqual(leftovers(), [], 'nothing left after a failed health check')
      } finally {
        sim.setGuestBehaviour({ pvDrivers: true })
      }
    },
  )

  it('skips a VM tagged xo:no-health-check, saying so', { timeout: 300_000 }, async () => {
    const web = sim.pool.vms.get('web') ?? ''
    sim.db.update('VM', web, { tags: ['xo:no-health-check=not bootable here'] })
    const file = join(dir, 'skip.yaml')
    await writeJob(file, '60s')
    const { error, nodes } = await run(file)
    assert.equal(error, undefined, String(error))
    const checks = nodes.filter((n) => n.message === 'health check')
    assert.equal(checks.length, 1, 'one health check task, saying why (as XO)')
    const check = checks.at(0)
    assert.ok(check !== undefined, 'a health check task')
    assert.deepEqual(check.tasks, [], 'no VM made, none started')
    assert.ok(
      check.infos.some((i) => i.message.includes('xo:no-health-check')),
      'the health check task says why the VM was not checked',
    )
  })
})
