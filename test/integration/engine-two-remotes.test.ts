// Issue 10 acceptance: two remotes from one export (a local directory and an S3 bucket on s3rver),
// one made to fail mid-transfer: the other completes, the task log (JSONL) warns naming the failed
// remote and its cause, the job's status is XO's (a dropped target fails the VM's and the job's
// run status, reference §6 computeStatusAndSortTasks, while the VM task itself ends success, §7
// _callWriters), and the next runs chain correctly on both. Delta mode, exportRetention 2, a VM of
// two disks with content, guest writes between runs; after every run each backup listed on either
// remote reads back (through its VHD chain, ranged GETs on S3) equal to the snapshot it came from.
// Case 1: S3 multipart uploads cut mid-body by a proxy (engine-two-remotes-proxy.ts). Case 2: the
// local remote hits a file size limit (prlimit --fsize: EFBIG) in a child process while S3
// completes. Case 3: S3 becomes unreachable from the middle of a single PUT on, so the failed
// backup cannot be cleaned up (and s3rver, unlike S3, keeps the cut object): the next run goes on
// and `backups check --repair` removes the leftovers.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openRepository } from '../../src/app/open-repository.ts'
import type { OpenedRepository } from '../../src/app/open-repository.ts'
import { cli } from '../../src/cli/testing/run-cli.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import { formatBackupTimestamp } from '../../src/shared/timestamps.ts'
import {
  HOUR,
  newestSnapshotDigests,
  readBackAll,
  s3Url,
  startTwoRemotesWorld,
  writeJob,
} from '../support/engine-two-remotes-fixture.ts'
import type { TwoRemotesWorld } from '../support/engine-two-remotes-fixture.ts'
import {
  allFiles,
  assertDropped,
  assertHealthy,
  assertServedOnce,
  delta,
  exportNode,
  findingKinds,
  hasPrlimit,
  key,
  runHere,
  runLimited,
  shape,
} from '../support/engine-two-remotes-runs.ts'
import type { RunRecord } from '../support/engine-two-remotes-runs.ts'

const MiB = 1024 * 1024

describe('two remotes from one export: local and S3 (s3rver), one failing mid-transfer', () => {
  let world: TwoRemotesWorld
  const opened: OpenedRepository[] = []
  before(async () => {
    world = await startTwoRemotesWorld()
  })
  after(async () => {
    await Promise.allSettled(opened.map((o) => o.close()))
    await world.close()
  })

  const open = async (url: string): Promise<Remote> => {
    const repository = await openRepository(url, { clock: world.clock })
    opened.push(repository)
    return repository.remote
  }

  it(
    'S3 cut mid-upload at run 2: local completes, the log warns, runs 3 and 4 chain on both',
    { timeout: 900_000 },
    async () => {
      const vm = world.vmUuid('alpha')
      const localDir = join(world.dir, 'alpha-nas')
      const job = await writeJob(world, 'alpha', {
        id: '6b1f3c0e-0a1b-4c2d-8e3f-405162738495',
        vmUuid: vm,
        localDir,
        s3: s3Url(world, 'alpha', 'proxy'),
      })
      const nas = await open(`file://${localDir}`)
      const s3 = await open(s3Url(world, 'alpha', 'direct'))
      const digests = new Map<string, string>()
      const snapshots: string[] = []
      const log = (run: number) => join(world.dir, `alpha-run${run}.jsonl`)
      const step = async (run: number, budget?: number): Promise<RunRecord> => {
        if (run > 1) world.sim.guestWrite(vm, { seed: 100 + run, changedFraction: 0.25 })
        world.offsetMs += HOUR
        if (budget !== undefined) world.proxy.failPutsAfter(budget)
        try {
          return await runHere(world, job, log(run))
        } finally {
          world.proxy.heal()
          const snapshot = await newestSnapshotDigests(world, 'alpha')
          snapshots.push(snapshot.uuid)
          for (const [vdi, sha] of snapshot.disks) digests.set(vdi, sha)
        }
      }
      const vdisOf = async () => (await newestSnapshotDigests(world, 'alpha')).disks.keys()

      // Run 1: one export per disk feeds both remotes.
      const run1 = await step(1)
      assertHealthy(run1, 'run 1')
      assertServedOnce(run1, await vdisOf(), false, 'run 1')
      const [s1] = snapshots as [string]
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 1 nas')), [key(s1)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 1 s3')), [key(s1)])

      // Run 2: S3 uploads are cut 1.5 MiB (and a bit) into this run's PUT bodies, then every PUT.
      const cutsBefore = world.proxy.cuts.length
      const run2 = await step(2, 1.5 * MiB + 777)
      const s2 = snapshots[1] as string
      assertServedOnce(run2, await vdisOf(), true, 'run 2')
      const cuts = world.proxy.cuts.slice(cutsBefore)
      const firstCut = cuts[0]
      assert.ok(firstCut !== undefined, 'the proxy cut an upload')
      assert.equal(firstCut.method, 'PUT')
      assert.match(firstCut.url, /\.vhd\?.*partNumber=\d+/, `mid-transfer: a part of a VHD (${firstCut.url})`)
      assert.ok(
        firstCut.forwardedBytes > 0 && firstCut.forwardedBytes < (firstCut.contentLength ?? 0),
        `cut in the middle of its body: ${firstCut.forwardedBytes} of ${firstCut.contentLength} bytes`,
      )
      assert.ok(world.proxy.completedPuts >= 1, 'whole parts had gone through before the cut')
      // The SDK's and the part's retries meet a dead connection each time: UNAVAILABLE, naming the VHD.
      assertDropped(run2, 's3', 'nas', /"code":"UNAVAILABLE".*\.vhd.*ECONNRESET/)
      // s3rver refuses to abort the cut multipart upload: the remote's own warning is in the log,
      // on the job (its parts would stay billed on AWS until a lifecycle rule removes them).
      assert.ok(
        run2.root.warnings.some((w) => /^remote s3: could not abort the multipart upload/.test(w.message)),
        `the remote's warning is in the log: ${JSON.stringify(run2.root.warnings.map((w) => w.message))}`,
      )
      const nasBackups = await readBackAll(nas, vm, digests, 'run 2 nas')
      assert.deepEqual(shape(nasBackups), [key(s1), delta(s2)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 2 s3')), [key(s1)])
      // Nothing of run 2 is listed on S3 (the uploads were never completed, their parts are not
      // objects), and the VM lock was released.
      const stem = formatBackupTimestamp(nasBackups[1]?.timestampMs ?? 0)
      const leftovers = (await allFiles(s3)).filter((p) => p.includes(stem) || p.endsWith('.lock'))
      assert.deepEqual(leftovers, [], 'no object of the failed run, no lock')
      assert.deepEqual(await findingKinds(s3, vm), [])

      // Run 3: S3 lacks run 2's disks, so neither remote can chain onto them: a key on both.
      const run3 = await step(3)
      const s3snap = snapshots[2] as string
      assertHealthy(run3, 'run 3')
      assertServedOnce(run3, await vdisOf(), false, 'run 3')
      assert.ok(
        run3.vm.infos.some((i) => i.message === 'remote s3 cannot chain this disk onto its base'),
        'the log says why the disks are full',
      )
      // exportRetention 2: local merged run 1 into run 2 (now a key); S3 keeps run 1's key.
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 3 nas')), [key(s2), key(s3snap)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 3 s3')), [key(s1), key(s3snap)])

      // Run 4: a delta over run 3 on both.
      const run4 = await step(4)
      const s4 = snapshots[3] as string
      assertHealthy(run4, 'run 4')
      assertServedOnce(run4, await vdisOf(), true, 'run 4')
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 4 nas')), [key(s3snap), delta(s4)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 4 s3')), [key(s3snap), delta(s4)])
      assert.deepEqual(await findingKinds(nas, vm), [])
      assert.deepEqual(await findingKinds(s3, vm), [])
      for (const url of [localDir, s3Url(world, 'alpha', 'direct')]) {
        const check = await cli('backups', 'check', url)
        assert.equal(check.code, 0, `backups check ${url}: ${check.out}${check.err}`)
      }
    },
  )

  it(
    'the local remote fails mid-write at run 2 (file size limit, EFBIG) while S3 completes; runs 3 and 4 chain on both',
    { timeout: 900_000, skip: hasPrlimit ? false : 'prlimit (util-linux) is not installed' },
    async () => {
      const vm = world.vmUuid('beta')
      const localDir = join(world.dir, 'beta-nas')
      const job = await writeJob(world, 'beta', {
        id: '7c2a4d1f-1b2c-4d3e-9f40-516273849506',
        vmUuid: vm,
        localDir,
        s3: s3Url(world, 'beta', 'proxy'),
      })
      const nas = await open(`file://${localDir}`)
      const s3 = await open(s3Url(world, 'beta', 'direct'))
      const digests = new Map<string, string>()
      const snapshots: string[] = []
      const log = (run: number) => join(world.dir, `beta-run${run}.jsonl`)
      const step = async (run: number, limit?: number): Promise<RunRecord> => {
        if (run > 1) world.sim.guestWrite(vm, { seed: 200 + run, changedFraction: 0.25 })
        world.offsetMs += HOUR
        try {
          return limit === undefined
            ? await runHere(world, job, log(run))
            : await runLimited(world, job, log(run), limit)
        } finally {
          const snapshot = await newestSnapshotDigests(world, 'beta')
          snapshots.push(snapshot.uuid)
          for (const [vdi, sha] of snapshot.disks) digests.set(vdi, sha)
        }
      }
      const vdisOf = async () => (await newestSnapshotDigests(world, 'beta')).disks.keys()

      const run1 = await step(1)
      assertHealthy(run1, 'run 1')
      assertServedOnce(run1, await vdisOf(), false, 'run 1')
      const [s1] = snapshots as [string]

      // Run 2: no file of the run's process may pass 1 MiB (and a bit); the deltas are larger.
      const run2 = await step(2, MiB + 12_345)
      const s2 = snapshots[1] as string
      assertServedOnce(run2, await vdisOf(), true, 'run 2')
      assertDropped(run2, 'nas', 's3', /"code":"IO_ERROR".*\.vhd.*EFBIG/)
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 2 nas')), [key(s1)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 2 s3')), [key(s1), delta(s2)])
      const nasFiles = await readdir(localDir, { recursive: true })
      assert.deepEqual(
        nasFiles.filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')),
        [],
        'the failed write left no temp file, the lock was released',
      )
      assert.deepEqual(await findingKinds(nas, vm), [])

      // Run 3: the local remote lacks run 2's disks: a key on both. S3 drops run 1's metadata but
      // must keep its disks (run 2 chains onto them) until a merge it cannot do (ADR 0005).
      const run3 = await step(3)
      const s3snap = snapshots[2] as string
      assertHealthy(run3, 'run 3')
      assertServedOnce(run3, await vdisOf(), false, 'run 3')
      assert.ok(
        run3.vm.infos.some((i) => i.message === 'remote nas cannot chain this disk onto its base'),
        'the log says why the disks are full',
      )
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 3 nas')), [key(s1), key(s3snap)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 3 s3')), [delta(s2), key(s3snap)])
      assert.deepEqual(await findingKinds(s3, vm), ['unmerged-ancestor', 'unmerged-ancestor'])
      const waiting = exportNode(run3.vm, 's3')
        .tasks.find((t) => t.message === 'merge')
        ?.warnings.find((w) => w.data?.reason === 'no-in-place-merge')
      assert.equal(
        (waiting?.data?.disks as unknown[] | undefined)?.length,
        2,
        'the log names the deltas that wait',
      )

      // Run 4: a delta over run 3 on both; S3's old chain is no longer needed and goes.
      const run4 = await step(4)
      const s4 = snapshots[3] as string
      assertHealthy(run4, 'run 4')
      assertServedOnce(run4, await vdisOf(), true, 'run 4')
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 4 nas')), [key(s3snap), delta(s4)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 4 s3')), [key(s3snap), delta(s4)])
      assert.deepEqual(await findingKinds(nas, vm), [])
      assert.deepEqual(await findingKinds(s3, vm), [])
      for (const url of [localDir, s3Url(world, 'beta', 'direct')]) {
        const check = await cli('backups', 'check', url)
        assert.equal(check.code, 0, `backups check ${url}: ${check.out}${check.err}`)
      }
    },
  )

  it(
    'an S3 outage from mid-upload on (single PUTs): nothing of the failed run is a backup, run 3 goes on, repair cleans what s3rver kept',
    { timeout: 900_000 },
    async () => {
      const vm = world.vmUuid('gamma')
      const localDir = join(world.dir, 'gamma-nas')
      const job = await writeJob(world, 'gamma', {
        id: '8d3b5e20-2c3d-4e4f-a051-627384950617',
        vmUuid: vm,
        localDir,
        s3: s3Url(world, 'gamma', 'proxy', false),
      })
      const nas = await open(`file://${localDir}`)
      const s3Direct = s3Url(world, 'gamma', 'direct', false)
      const s3 = await open(s3Direct)
      const digests = new Map<string, string>()
      const snapshots: string[] = []
      const step = async (run: number, outageAfter?: number): Promise<RunRecord> => {
        if (run > 1) world.sim.guestWrite(vm, { seed: 300 + run, changedFraction: 0.25 })
        world.offsetMs += HOUR
        if (outageAfter !== undefined) world.proxy.failPutsAfter(outageAfter, { outage: true })
        try {
          return await runHere(world, job, join(world.dir, `gamma-run${run}.jsonl`))
        } finally {
          world.proxy.heal()
          const snapshot = await newestSnapshotDigests(world, 'gamma')
          snapshots.push(snapshot.uuid)
          for (const [vdi, sha] of snapshot.disks) digests.set(vdi, sha)
        }
      }

      assertHealthy(await step(1), 'run 1')
      const s1 = snapshots[0] as string

      // Run 2: a single PutObject is cut mid-body, then the server is unreachable: the failed
      // backup's cleanup cannot reach it either. s3rver (unlike S3) keeps a cut PUT's bytes.
      const cutsBefore = world.proxy.cuts.length
      const run2 = await step(2, 1.5 * MiB + 777)
      const s2 = snapshots[1] as string
      const firstCut = world.proxy.cuts[cutsBefore]
      assert.ok(firstCut !== undefined, 'the proxy cut an upload')
      assert.match(firstCut.url, /\.vhd\?x-id=PutObject$/, `a whole-VHD PUT (${firstCut.url})`)
      assert.ok(
        firstCut.forwardedBytes > 0 && firstCut.forwardedBytes < (firstCut.contentLength ?? 0),
        `cut in the middle of its body: ${firstCut.forwardedBytes} of ${firstCut.contentLength} bytes`,
      )
      assert.ok(world.proxy.refused > 0, 'later requests (retries, cleanup) met the outage')
      assertDropped(run2, 's3', 'nas', /"code":"UNAVAILABLE".*\.vhd.*ECONNRESET/)
      const s3Transfer = exportNode(run2.vm, 's3').tasks.find((t) => t.message === 'transfer')
      assert.ok(
        s3Transfer?.warnings.some((w) => /could not remove the VHDs of a failed backup/.test(w.message)),
        'the log says the failed backup could not be cleaned up',
      )
      const nasBackups = await readBackAll(nas, vm, digests, 'run 2 nas')
      assert.deepEqual(shape(nasBackups), [key(s1), delta(s2)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 2 s3')), [key(s1)])
      const stem = formatBackupTimestamp(nasBackups[1]?.timestampMs ?? 0)
      const leftovers = (await allFiles(s3)).filter((p) => p.includes(stem))
      assert.ok(leftovers.length > 0, 's3rver kept the bytes of the cut PUT')
      assert.ok(
        leftovers.every((p) => p.endsWith(`${stem}.vhd`)),
        `no metadata of run 2: ${leftovers.join(', ')}`,
      )
      // check: the leftovers are broken and unused disks; no backup is broken.
      const report = await checkVmBackups(s3, vm)
      assert.deepEqual(
        report.findings.map((f) => [f.kind, f.path]).sort(),
        leftovers.map((p) => ['broken-vhd', p]),
      )
      assert.equal(report.completeBackups.length, 1, 'run 1 is still complete')

      // Run 3: neither remote can chain onto run 2 (S3 lacks it): a key on both. The unattended run
      // leaves the broken disks to `backups check --repair`, and says so.
      const run3 = await step(3)
      const s3snap = snapshots[2] as string
      assertHealthy(run3, 'run 3')
      assert.ok(
        run3.vm.warnings.some((w) => /left for `backups check --repair`/.test(w.message)),
        'the run says the broken disks are left for a repair',
      )
      assert.deepEqual(shape(await readBackAll(nas, vm, digests, 'run 3 nas')), [key(s2), key(s3snap)])
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'run 3 s3')), [key(s1), key(s3snap)])
      const check = await cli('backups', 'check', s3Direct)
      assert.equal(check.code, 1, 'check reports the leftovers')
      const repair = await cli('backups', 'check', '--repair', s3Direct)
      assert.equal(repair.code, 0, repair.out + repair.err)
      assert.equal((await allFiles(s3)).filter((p) => p.includes(stem)).length, 0, 'repair removed them')
      const clean = await cli('backups', 'check', s3Direct)
      assert.equal(clean.code, 0, clean.out + clean.err)
      assert.deepEqual(shape(await readBackAll(s3, vm, digests, 'after repair s3')), [key(s1), key(s3snap)])
    },
  )
})
