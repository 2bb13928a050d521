// The server benchmark's helpers: percentiles, the latency sides' pairing, the bare server, the
// fixtures' shapes. Nothing is timed. Not under src/ or test/, so `npm test` does not run it:
// `node --import tsx --test bench/server-fixtures.test.ts`.
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openStore } from '../src/daemon/store/open-store.ts'
import { listBackupVms, listVmBackups } from '../src/repository/listing.ts'
import { openLocalRemote } from '../src/remotes/local/local-remote.ts'
import type { Sample } from './harness.ts'
import {
  getJson,
  insertRuns,
  latencySides,
  percentile,
  startBareServer,
  writeRemoteBackups,
} from './server-fixtures.ts'

test('percentile is the nearest rank, the max below 1/(1-p) values', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i)
  assert.equal(percentile(values, 0.5), 50)
  assert.equal(percentile(values, 0.99), 99)
  assert.equal(percentile([3, 1, 2], 0.99), 3)
  assert.equal(percentile([3, 1, 2], 0.5), 2)
  assert.ok(Number.isNaN(percentile([], 0.5)), 'no values: NaN')
})

test('latency sides: p50 runs the batch, tail reports it once, named p99 or max by count', async () => {
  let calls = 0
  const few = latencySides('x', 3, () => Promise.resolve(calls++))
  await assert.rejects(() => few.tail.measure(), /before its batch/)
  const sample = (await few.p50.measure()) as Sample
  assert.equal(calls, 3)
  assert.ok(sample.seconds > 0 && sample.cpuSeconds !== undefined, 'a p50 and the batch CPU')
  assert.ok(((await few.tail.measure()) as number) >= sample.seconds, 'the tail is at least the p50')
  await assert.rejects(() => few.tail.measure(), /before its batch/)
  assert.match(few.tail.name, /max of the same 3/)
  assert.match(latencySides('y', 100, () => Promise.resolve()).tail.name, /p99 of the same 100/)
})

test(
  'the bare server answers the given bytes for the exact path and query, 404 otherwise',
  { timeout: 10_000 },
  async (t) => {
    const body = Buffer.from('{"items":[1,2]}')
    const bare = await startBareServer(new Map([['/a?x=1', body]]))
    t.after(() => bare.close())
    assert.deepEqual(await getJson(bare.origin, '/a?x=1', 't', body.length), body)
    await assert.rejects(() => getJson(bare.origin, '/a?x=1', 't', body.length + 1), /expected/)
    await assert.rejects(() => getJson(bare.origin, '/a', 't'), /HTTP 404/)
  },
)

test('insertRuns fills the history: every run listed, one in ten failed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'server-fixtures-'))
  const store = openStore(join(dir, 'data'))
  t.after(async () => {
    store.close()
    await rm(dir, { recursive: true, force: true })
  })
  insertRuns(store, 30)
  assert.equal(store.listRuns({ limit: 1 }).total, 30)
  assert.equal(store.listRuns({ status: 'failure' }).total, 3)
})

test('writeRemoteBackups leaves complete, listable delta backups per VM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'server-fixtures-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeRemoteBackups(dir, 2, 3)
  const remote = await openLocalRemote(dir)
  const vms = await listBackupVms(remote)
  assert.equal(vms.length, 2)
  for (const vm of vms) {
    const { backups, invalid } = await listVmBackups(remote, vm, { useCache: false })
    assert.deepEqual(invalid, [])
    assert.equal(backups.length, 3)
    assert.ok(
      backups.every((b) => b.missingFiles.length === 0 && b.metadata.vm.uuid === vm),
      'complete backups of this VM',
    )
  }
  const first = join(dir, 'xo-vm-backups', vms[0] as string)
  const json = (await readdir(first)).find((n) => n.endsWith('.json')) as string
  assert.equal((JSON.parse(await readFile(join(first, json), 'utf8')) as { mode: string }).mode, 'delta')
})
