import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { MemoryRemote } from '../../src/remotes/testing/memory-remote.ts'
import { CACHE_FILE, metadataPath, vmDir } from '../../src/repository/layout.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { MAX_CACHE_JSON_BYTES } from '../../src/repository/listing-cache.ts'
import { fullMetadata, IDS } from '../../src/repository/testing/sample-metadata.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import { runBounded } from '../support/bounded-child.ts'
import type { RepoFixture } from './repository-fixture.ts'
import { createRepoFixture, OTHER_VM, T0 } from './repository-fixture.ts'

const cachePath = `${vmDir(IDS.vm)}/${CACHE_FILE}`
const DAY = 86_400_000

/** Concatenated gzip members (valid gzip) of zeros expanding to `expandedMiB` MiB from ~1 KiB per 1 MiB. */
function gzipBomb(expandedMiB: number): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 })
  return Buffer.concat(Array.from({ length: Math.ceil(expandedMiB / 64) }, () => member))
}

describe('hostile cache.json.gz', () => {
  let fixture: RepoFixture
  before(async () => {
    fixture = await createRepoFixture()
    for (let day = 0; day < 3; day++) await fixture.putFullBackup(day)
  })
  after(() => fixture.cleanup())

  it(
    'a gzip bomb is ignored within bounded memory: the listing is still complete',
    { timeout: 120_000 },
    async () => {
      const bomb = gzipBomb(1024)
      assert.ok(bomb.length < 4 * 1024 * 1024, `the bomb is small (${bomb.length} bytes)`)
      await fixture.put(cachePath, bomb)
      const run = await runBounded('src/cli/main.ts', ['backups', 'list', '--json', fixture.url], {
        timeoutMs: 90_000,
        maxOldSpaceMiB: 512,
      })
      assert.equal(run.timedOut, false)
      assert.equal(run.status, 0, run.stderr)
      const listed = JSON.parse(run.stdout) as Record<
        string,
        { backups: { id: string }[]; invalid: unknown[] }
      >
      assert.deepEqual(
        listed[IDS.vm]?.backups.map((b) => b.id),
        [0, 1, 2].map((day) => metadataPath(IDS.vm, T0 + day * DAY)),
      )
      assert.deepEqual(listed[IDS.vm]?.invalid, [])
      // The cap (128 MiB) plus Node's own ~100 MiB: far below the 1 GiB the bomb expands to.
      assert.ok(run.maxRssBytes !== undefined, 'the child reported its peak RSS')
      assert.ok(run.maxRssBytes < 400 * 1024 * 1024, `peak RSS ${Math.round(run.maxRssBytes / 2 ** 20)} MiB`)
      // Rebuilt: the next listing finds a small, valid cache with the three backups.
      const rebuilt = await readFile(join(fixture.repo, ...cachePath.split('/')))
      assert.ok(rebuilt.length < 64 * 1024, 'rebuilt.length < 64 * 1024')
      assert.equal(Object.keys(JSON.parse(gunzipSync(rebuilt).toString('utf8')) as object).length, 3)
      assert.ok(await fixture.canariesIntact(), 'await fixture.canariesIntact()')
    },
  )

  it('a compressed cache above its size limit is ignored without being read', async () => {
    const remote = new MemoryRemote()
    await remote.write(metadataPath(IDS.vm, T0), Buffer.from(JSON.stringify(fullMetadata(T0))))
    await remote.write(cachePath, Buffer.alloc(33 * 1024 * 1024, 1))
    let reads = 0
    const read = remote.read.bind(remote)
    remote.read = (path, options) => {
      if (path === cachePath) reads++
      return read(path, options)
    }
    const listed = await listVmBackups(remote, IDS.vm)
    assert.equal(reads, 0)
    assert.match(listed.cacheIgnored ?? '', /expected at most 33554432 bytes, got 34603008/)
    assert.equal(listed.backups.length, 1)
    assert.ok((remote.files.get(cachePath)?.data.length ?? 0) < 64 * 1024, 'rebuilt')
  })

  it('reports an expansion beyond the cap in the task log and rebuilds the cache', async () => {
    const remote = new MemoryRemote()
    await remote.write(metadataPath(IDS.vm, T0), Buffer.from(JSON.stringify(fullMetadata(T0))))
    await remote.write(cachePath, gzipBomb(MAX_CACHE_JSON_BYTES / 2 ** 20 + 64))
    const sink = new MemorySink()
    const listed = await runRootTask({ sink }, { message: 'list' }, (task) =>
      listVmBackups(remote, IDS.vm, {}, task),
    )
    assert.equal(listed.backups.length, 1)
    const warnings = sink.events.filter((e) => e.event === 'task.warning')
    assert.equal(warnings.length, 1)
    assert.match(
      warnings[0]?.event === 'task.warning' ? warnings[0].message : '',
      /cache\.json\.gz ignored and rebuilt: expands beyond 134217728 bytes/,
    )
    const again = await listVmBackups(remote, IDS.vm)
    assert.equal(again.cacheIgnored, undefined, 'the rebuilt cache is read back')
    assert.equal(again.metadataReads, 0)
  })

  it('ignores and rebuilds an invalid cache, whatever is wrong with it; never fatal', async () => {
    const good = fullMetadata(T0)
    // Built as text: JSON.stringify itself overflows the stack on a 20,000-deep value.
    const deepText = `${'['.repeat(20_000)}"leaf"${']'.repeat(20_000)}`
    const entry = (metadata: unknown, key = `/${metadataPath(IDS.vm, T0)}`) =>
      gzipSync(
        JSON.stringify({
          [key]: { ...(metadata as object), _stat: { sizeBytes: 1, modifiedMs: 1 } },
        }).replace('"DEEP"', deepText),
      )
    const cases: [string, Buffer, RegExp][] = [
      ['garbage', Buffer.from('not gzip at all'), /not gzip/],
      ['gzip of non-JSON', gzipSync('{"a":'), /not valid JSON/],
      ['a JSON array', gzipSync('[1,2,3]'), /expected a JSON object/],
      [
        'an entry that is not an object',
        gzipSync(JSON.stringify({ [`/${metadataPath(IDS.vm, T0)}`]: 3 })),
        /expected an object/,
      ],
      ['invalid metadata', entry({ ...good, version: '9' }), /version/],
      ['a 20,000-deep entry', entry({ ...good, vm: { ...good.vm, deep: 'DEEP' } }), /levels of nesting/],
      ['an entry outside the VM folder', entry(good, '/../../etc/passwd.json'), /outside/],
      ['an entry in another VM folder', entry(good, `/${metadataPath(OTHER_VM, T0)}`), /outside/],
      ['an entry that is not a metadata file', entry(good, `/${vmDir(IDS.vm)}/x.xva`), /not a metadata file/],
    ]
    for (const [what, bytes, reason] of cases) {
      const remote = new MemoryRemote()
      await remote.write(metadataPath(IDS.vm, T0), Buffer.from(JSON.stringify(good)))
      await remote.write(`${vmDir(IDS.vm)}/20261101T000000Z.xva`, Buffer.from('xva'))
      await remote.write(cachePath, bytes)
      const listed = await listVmBackups(remote, IDS.vm)
      assert.match(listed.cacheIgnored ?? '', reason, what)
      assert.deepEqual(
        listed.backups.map((b) => [b.id, b.missingFiles]),
        [[metadataPath(IDS.vm, T0), []]],
        what,
      )
      assert.equal(listed.metadataReads, 1, what)
      const again = await listVmBackups(remote, IDS.vm)
      assert.equal(again.cacheIgnored, undefined, `${what}: rebuilt`)
      assert.equal(again.metadataReads, 0, `${what}: rebuilt`)
    }
  })
})
