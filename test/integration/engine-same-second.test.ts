// Two runs of a delta job within one second (a retry, a test, the demo): backups are named by
// their datetime to the second, so the second run must neither overwrite nor silently skip the
// first one's backup (which would mark a snapshot exported whose blocks the remote never got).
// The clock here stands still except when the engine sleeps: every run starts in the same second.
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
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'

const MiB = 1024 * 1024

describe('two delta runs within one second', () => {
  let dir: string
  let sim: RunningSimulator
  let file: string
  let remoteDir: string
  // Frozen at x.250 s; sleeping moves it on (and waits for real, briefly, so timers still run).
  let nowMs = Date.UTC(2026, 10, 27, 12, 0, 0, 250)
  const clock: Clock = {
    now: () => nowMs,
    sleep: async (ms, signal) => {
      nowMs += ms
      await systemClock.sleep(Math.min(ms, 5), signal)
    },
  }
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'same-second-'))
    remoteDir = join(dir, 'remote')
    await mkdir(remoteDir)
    await mkdir(join(dir, 'sim'))
    sim = await startSimulator({
      pool: {
        name: 'p',
        hosts: [{ name: 'h', address: '127.0.0.1' }],
        srs: [{ name: 'Local', type: 'ext', sizeBytes: 256 * MiB }],
        networks: [],
        vms: [
          {
            name: 'web',
            powerState: 'Running',
            disks: [{ name: 'system', sizeBytes: 4 * MiB, content: { seed: 3, allocatedFraction: 0.5 } }],
            networks: [],
          },
        ],
      },
      dataDir: join(dir, 'sim'),
      clock,
    })
    await writeFile(join(dir, 'password'), sim.password)
    const vm = sim.db.get('VM', sim.pool.vms.get('web') ?? '').uuid as string
    file = join(dir, 'job.yaml')
    await writeFile(
      file,
      [
        'job: { id: 3c3c3c3c-4d4d-4e5e-8f6f-707070707070, name: quick, mode: delta,',
        `  remotes: { id: nas }, vms: { id: ${vm} }, settings: { '': { exportRetention: 3 } } }`,
        `remotes: { nas: { url: "file://${remoteDir}" } }`,
        'schedule: { id: 4d4d4d4d-5e5e-4f6f-8070-818181818181 }',
        `xapis: { pool: { url: "${sim.url}", credentials: { username: ${sim.username}, password: { file: password } } } }`,
        '',
      ].join('\n'),
    )
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(
    'the second waits for the next second: two backups, each restoring its own snapshot',
    { timeout: 300_000 },
    async () => {
      const ref = sim.pool.vms.get('web') ?? ''
      const vm = sim.db.get('VM', ref).uuid as string
      const digests: string[] = []
      for (let run = 0; run < 2; run++) {
        if (run > 0) sim.guestWrite(ref, { seed: 9, changedFraction: 0.5 })
        const sink = new MemorySink()
        await runBackupFromFile(file, { sink, clock })
        const snapshots = (sim.db.get('VM', ref).snapshots as string[]).map((r) => sim.db.get('VM', r))
        const newest = snapshots.sort((a, b) =>
          (b.snapshot_time as string).localeCompare(a.snapshot_time as string),
        )[0]
        const vbd = (newest?.VBDs as string[]).map((r) => sim.db.get('VBD', r)).find((r) => r.type === 'Disk')
        digests.push(await sim.storage.digest(vbd?.VDI as string))
      }
      assert.notEqual(digests[0], digests[1], 'the guest wrote between the runs')
      const remote = await openLocalRemote(remoteDir)
      const { backups } = await listVmBackups(remote, vm, { useCache: false })
      assert.equal(backups.length, 2, backups.map((b) => b.id).join(', '))
      for (const [i, backup] of backups.entries()) {
        if (backup.metadata.mode !== 'delta') assert.fail('delta backups')
        const [path] = Object.values(backup.metadata.vhds)
        const chain = await VhdChain.open(resolveInVmDir(vmDir(vm), path ?? '', 'vhds'), (p) =>
          openRemoteFile(remote, p),
        )
        const hash = createHash('sha256')
        try {
          for await (const chunk of chainToRaw(chain)) hash.update(chunk)
        } finally {
          await chain.close()
        }
        assert.equal(hash.digest('hex'), digests[i], `${backup.id} restores its snapshot`)
      }
    },
  )
})
