// Replication to an SR end to end through the app's real path (issue 11 acceptance): a run
// description with job.srs, the simulator over HTTP, five runs with guest writes between them.
// DR (full mode): a new replica per run, copyRetention of them kept. CR (delta mode, with a remote
// too: one export, two targets): one replica VM updated in place, a target snapshot per run kept to
// copyRetention. After each run the newest replica's disks equal the source's disks at that run;
// a replica cannot be started (OPERATION_BLOCKED) but a clone of it can; names, tags, keys as the seed says.
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
import { formatBackupTimestamp, parseXapiDateTime } from '../../src/shared/timestamps.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import type { TaskTreeNode as TaskNode } from '../../src/tasks/tree.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const MiB = 1024 * 1024
const HOUR = 3_600_000
const DR_JOB = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6'
const CR_JOB = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d'
const SCHEDULE = 'c0ffee00-1111-4222-8333-444455556666'

const POOL: PoolDescription = {
  name: 'replication pool',
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
      tags: ['production'],
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
    {
      name: 'cold',
      powerState: 'Halted',
      disks: [
        {
          name: 'cold system',
          sizeBytes: 4 * MiB,
          sr: 'Local',
          content: { seed: 9, allocatedFraction: 0.5 },
        },
      ],
      networks: ['net'],
    },
  ],
}

type Row = Record<string, unknown>

function allNodes(nodes: readonly TaskNode[]): TaskNode[] {
  return nodes.flatMap((n) => [n, ...allNodes(n.tasks)])
}

describe('replication to an SR (DR and CR) end to end', () => {
  let dir: string
  let sim: RunningSimulator
  let xapi: HttpXapiClient
  let offsetMs = 0
  const clock: Clock = {
    now: () => systemClock.now() + offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const vmRef = (name: string): string => sim.pool.vms.get(name) ?? ''
  const uuidOf = (cls: string, ref: string): string => sim.db.get(cls, ref).uuid as string
  const replicaSr = (): string => sim.pool.srs.get('Replicas') ?? ''

  async function writeJob(
    file: string,
    job: { id: string; mode: string; retention: number; remote?: string; extra?: string; vm?: string },
  ) {
    await writeFile(
      file,
      [
        'job:',
        `  id: ${job.id}`,
        `  name: ${job.mode === 'full' ? 'dr' : 'cr'}`,
        `  mode: ${job.mode}`,
        '  type: backup',
        `  srs: { id: ${uuidOf('SR', replicaSr())} }`,
        ...(job.remote === undefined ? [] : ['  remotes: { id: nas }']),
        `  vms: { id: ${uuidOf('VM', vmRef(job.vm ?? 'web'))} }`,
        '  settings:',
        `    '': { copyRetention: ${job.retention}, exportRetention: 2${job.extra ?? ''} }`,
        ...(job.remote === undefined ? [] : ['remotes:', `  nas: { url: "file://${job.remote}" }`]),
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

  /** sha256 of each disk of VM `ref`, in userdevice order. */
  async function diskDigests(ref: string): Promise<string[]> {
    const vbds = (sim.db.get('VM', ref).VBDs as string[])
      .map((v) => sim.db.get('VBD', v))
      .filter((v) => v.type === 'Disk')
      .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))
    return Promise.all(vbds.map((v) => sim.storage.digest(v.VDI as string)))
  }

  /** Replicas of `jobId` on the replica SR: live VMs and snapshots. */
  function replicas(jobId: string): { vms: [string, Row][]; snapshots: [string, Row][] } {
    const owned = [...sim.db.all('VM')].filter(
      ([, r]) =>
        (r.other_config as Record<string, string>)['xo:backup:job'] === jobId &&
        // The source's own backup snapshots carry the job's keys too, never the SR's.
        (r.other_config as Record<string, string>)['xo:backup:sr'] !== undefined &&
        r.uuid !== uuidOf('VM', vmRef('web')),
    )
    return {
      vms: owned.filter(([, r]) => r.is_a_snapshot !== true),
      snapshots: owned.filter(([, r]) => r.is_a_snapshot === true),
    }
  }

  function orphanVdis(): string[] {
    return [...sim.db.all('VDI')]
      .filter(([, r]) => r.SR === replicaSr() && (r.VBDs as string[]).length === 0)
      .map(([, r]) => `${r.uuid as string} ${r.name_label as string}`)
  }

  function exportToSr(nodes: readonly TaskNode[], n: number): TaskNode {
    const found = nodes.find((t) => t.message === 'export' && t.data?.type === 'SR')
    assert.ok(found !== undefined, `run ${n}: an export to the SR`)
    assert.equal(found.status, 'success', `run ${n}: the SR export succeeded: ${JSON.stringify(found.error)}`)
    return found
  }

  async function run(file: string, run: number): Promise<TaskNode[]> {
    offsetMs += HOUR
    const sink = new MemorySink()
    const result = await runBackupFromFile(file, { sink, clock }).catch((error: unknown) => error)
    assert.ok(!(result instanceof Error), `run ${run}: ${String(result)}`)
    return allNodes(sink.trees().roots)
  }

  async function assertBlockedButClonable(ref: string): Promise<void> {
    await assert.rejects(xapi.call('VM.start', [ref, false, false]), (error: { code?: string }) => {
      assert.equal(error.code, 'OPERATION_BLOCKED')
      return true
    })
    const clone = await xapi.call('VM.clone', [ref, 'failover test'])
    const blocked = (await xapi.getRecord('VM', clone)).blocked_operations
    for (const op of Object.keys(blocked)) await xapi.call('VM.remove_from_blocked_operations', [clone, op])
    await xapi.call('VM.start', [clone, false, false])
    assert.equal((await xapi.getRecord('VM', clone)).power_state, 'Running')
    await xapi.call('VM.hard_shutdown', [clone])
    const disks = (await xapi.getRecord('VM', clone)).VBDs
    const vdis = await Promise.all(disks.map(async (vbd) => (await xapi.getRecord('VBD', vbd)).VDI))
    await xapi.call('VM.destroy', [clone])
    for (const vdi of vdis) await xapi.call('VDI.destroy', [vdi])
  }

  function assertAttributes(record: Row, jobId: string, tag: string): void {
    const other = record.other_config as Record<string, string>
    const datetime = other['xo:backup:datetime'] ?? ''
    assert.equal(other['xo:backup:job'], jobId)
    assert.equal(other['xo:backup:schedule'], SCHEDULE)
    assert.equal(other['xo:backup:vm'], uuidOf('VM', vmRef('web')))
    assert.equal(other['xo:backup:sr'], uuidOf('SR', replicaSr()))
    assert.match(datetime, /^\d{8}T\d{2}:\d{2}:\d{2}Z$/)
    assert.ok((record.tags as string[]).includes(tag), `tag ${tag}`)
    assert.equal(
      record.name_label,
      `web - ${jobId === DR_JOB ? 'dr' : 'cr'} - (${formatBackupTimestamp(parseXapiDateTime(datetime))})`,
    )
    const blocked = record.blocked_operations as Record<string, string>
    assert.ok(blocked.start !== undefined && blocked.start_on !== undefined, 'start and start_on blocked')
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replication-'))
    await mkdir(join(dir, 'sim'))
    sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim'), clock })
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
    xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await xapi.connect()
  })
  after(async () => {
    await xapi.disconnect()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(
    'DR with a remote: five runs, copyRetention 2, each replica equal to the VM at its run',
    { timeout: 600_000 },
    async () => {
      const file = join(dir, 'dr.yaml')
      const remoteDir = join(dir, 'dr-remote')
      await mkdir(remoteDir)
      await writeJob(file, { id: DR_JOB, mode: 'full', retention: 2, remote: remoteDir })
      const web = vmRef('web')
      for (let n = 1; n <= 5; n++) {
        if (n > 1) sim.guestWrite(web, { seed: 100 + n, changedFraction: 0.25 })
        const expected = await diskDigests(web)
        const nodes = await run(file, n)
        const exportTask = exportToSr(nodes, n)
        assert.ok(
          exportTask.tasks.some((c) => c.message === 'transfer' && c.status === 'success'),
          `run ${n}: a transfer`,
        )
        const { vms } = replicas(DR_JOB)
        assert.equal(vms.length, Math.min(n, 2), `run ${n}: copyRetention 2`)
        const newest = vms
          .sort(([, a], [, b]) =>
            String((a.other_config as Row)['xo:backup:datetime']).localeCompare(
              String((b.other_config as Row)['xo:backup:datetime']),
            ),
          )
          .at(-1) as [string, Row]
        assert.deepEqual(await diskDigests(newest[0]), expected, `run ${n}: the newest replica equals the VM`)
        assertAttributes(newest[1], DR_JOB, 'Disaster Recovery')
        await assertBlockedButClonable(newest[0])
        const { backups } = await listVmBackups(await openLocalRemote(remoteDir), uuidOf('VM', web), {
          useCache: false,
        })
        assert.equal(backups.length, Math.min(n, 2), `run ${n}: the remote got the same XVA export`)
      }
    },
  )

  it(
    'CR with a remote: one replica updated in place, copyRetention 3 target snapshots',
    { timeout: 600_000 },
    async () => {
      const remoteDir = join(dir, 'remote')
      await mkdir(remoteDir)
      const file = join(dir, 'cr.yaml')
      await writeJob(file, { id: CR_JOB, mode: 'delta', retention: 3, remote: remoteDir })
      const web = vmRef('web')
      const sizes: number[] = []
      for (let n = 1; n <= 5; n++) {
        if (n > 1) sim.guestWrite(web, { seed: 200 + n, changedFraction: 0.1 })
        const expected = await diskDigests(web)
        const nodes = await run(file, n)
        const exportTask = exportToSr(nodes, n)
        const transfer = exportTask.tasks.find((c) => c.message === 'transfer')
        sizes.push(Number((transfer?.result as { size?: number } | undefined)?.size))
        const inPlace = allNodes([exportTask]).some((t) =>
          t.infos.some((i) => i.message === 'the replica is updated in place'),
        )
        assert.equal(
          inPlace,
          n > 1,
          `run ${n}: updated in place from the second run on: ${JSON.stringify(
            nodes.flatMap((t) => [...t.infos, ...t.warnings].map((l) => l.message)),
          )}`,
        )
        assert.equal(exportTask.data?.isFull, n === 1, `run ${n}: isFull`)
        const { vms, snapshots } = replicas(CR_JOB)
        assert.equal(vms.length, 1, `run ${n}: one live replica VM`)
        assert.equal(snapshots.length, Math.min(n, 3), `run ${n}: copyRetention 3 target snapshots`)
        const [replicaRef, replica] = vms[0] as [string, Row]
        assert.deepEqual(await diskDigests(replicaRef), expected, `run ${n}: the replica equals the VM`)
        assertAttributes(replica, CR_JOB, 'Continuous Replication')
        await assertBlockedButClonable(replicaRef)
        const { backups } = await listVmBackups(await openLocalRemote(remoteDir), uuidOf('VM', web), {
          useCache: false,
        })
        assert.equal(backups.length, Math.min(n, 2), `run ${n}: the remote got the same export`)
      }
      assert.ok(
        sizes.slice(1).every((s) => s < (sizes[0] ?? 0) / 2),
        `deltas smaller than the first copy: ${sizes.join(', ')}`,
      )
      // The DR job (another job with the same schedule id, on the same SR) kept its replicas:
      // a schedule id is only unique within its job, and CR's retention must not take them.
      assert.equal(replicas(DR_JOB).vms.length, 2, "the DR job's replicas are untouched by the CR job")
      // No disk left behind on the replica SR: each belongs to a replica or a target snapshot.
      assert.deepEqual(orphanVdis(), [], 'no orphan VDI on the replica SR')
    },
  )

  it(
    'CR of checkpoints with a remote: the memory goes to the remote only, the replica has the disks',
    { timeout: 600_000 },
    async () => {
      const remoteDir = join(dir, 'checkpoint-remote')
      await mkdir(remoteDir)
      const file = join(dir, 'checkpoint.yaml')
      const jobId = '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e'
      await writeJob(file, {
        id: jobId,
        mode: 'delta',
        retention: 2,
        remote: remoteDir,
        extra: ', checkpointSnapshot: true',
      })
      const web = vmRef('web')
      for (let n = 1; n <= 2; n++) {
        if (n > 1) sim.guestWrite(web, { seed: 300 + n, changedFraction: 0.1 })
        const expected = await diskDigests(web)
        const nodes = await run(file, n)
        const exportTask = exportToSr(nodes, n)
        assert.ok(
          allNodes([exportTask]).some((t) =>
            t.infos.some((i) => i.message === "the checkpoint's memory is not replicated"),
          ),
          `run ${n}: the memory disk is named as not replicated`,
        )
        const { vms } = replicas(jobId)
        assert.equal(vms.length, 1, `run ${n}: one live replica VM`)
        const [replicaRef] = vms[0] as [string, Row]
        assert.deepEqual(await diskDigests(replicaRef), expected, `run ${n}: the replica equals the VM`)
        assert.deepEqual(orphanVdis(), [], `run ${n}: no orphan VDI (no memory disk) on the replica SR`)
      }
    },
  )

  it(
    'DR of a halted VM (exported without a snapshot): the replica carries no migration block of the backup',
    { timeout: 300_000 },
    async () => {
      const file = join(dir, 'cold.yaml')
      const jobId = '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f'
      await writeJob(file, { id: jobId, mode: 'full', retention: 1, vm: 'cold' })
      const expected = await diskDigests(vmRef('cold'))
      exportToSr(await run(file, 1), 1)
      const copies = [...sim.db.all('VM')].filter(
        ([, r]) =>
          (r.other_config as Record<string, string>)['xo:backup:job'] === jobId &&
          r.is_a_snapshot !== true &&
          r.uuid !== uuidOf('VM', vmRef('cold')),
      )
      assert.equal(copies.length, 1, 'one replica')
      const [ref, record] = copies[0] as [string, Row]
      assert.deepEqual(Object.keys(record.blocked_operations as Record<string, string>).sort(), [
        'start',
        'start_on',
      ])
      assert.deepEqual(await diskDigests(ref), expected)
      assert.deepEqual(
        Object.keys(sim.db.get('VM', vmRef('cold')).blocked_operations as Record<string, string>),
        [],
        'the source is unblocked after its backup',
      )
    },
  )
})
