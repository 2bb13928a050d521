import assert from 'node:assert/strict'
import { open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { MemoryRemote } from '../../src/remotes/testing/memory-remote.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import { metadataPath, vmDir, xvaPath } from '../../src/repository/layout.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { deltaMetadata, fullMetadata, IDS } from '../../src/repository/testing/sample-metadata.ts'
import { runBounded } from '../support/bounded-child.ts'
import type { RepoFixture } from './repository-fixture.ts'
import { createRepoFixture, OTHER_VM, T0 } from './repository-fixture.ts'

const DAY = 86_400_000
const deepText = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`

describe('hostile metadata: nesting and size', () => {
  it('a 20,000-deep field makes that file invalid; the listing and check go on', async () => {
    const remote = new MemoryRemote()
    await remote.write(metadataPath(IDS.vm, T0), Buffer.from(JSON.stringify(fullMetadata(T0))))
    await remote.write(xvaPath(IDS.vm, T0), Buffer.from('xva'))
    await remote.write(`${xvaPath(IDS.vm, T0)}.checksum`, Buffer.from('$1$$0'))
    for (const [day, where] of [
      [1, '"vm":{'],
      [2, '"vmSnapshot":{'],
      [3, '{'],
    ] as const) {
      const text = JSON.stringify(fullMetadata(T0 + day * DAY)).replace(where, `${where}"deep":${deepText},`)
      await remote.write(metadataPath(IDS.vm, T0 + day * DAY), Buffer.from(text))
    }
    for (let pass = 0; pass < 2; pass++) {
      const { backups, invalid } = await listVmBackups(remote, IDS.vm)
      assert.deepEqual(
        backups.map((b) => b.id),
        [metadataPath(IDS.vm, T0)],
      )
      assert.deepEqual(
        invalid.map((i) => i.path),
        [1, 2, 3].map((day) => metadataPath(IDS.vm, T0 + day * DAY)),
      )
      for (const { path, message } of invalid)
        assert.match(
          message,
          new RegExp(`^${path}: (vm\\.|vmSnapshot\\.)?deep(\\.a)*: expected at most 32 levels`),
        )
    }
    const report = await checkVmBackups(remote, IDS.vm)
    assert.deepEqual(
      report.findings.filter((f) => f.kind === 'unreadable-metadata').map((f) => f.path),
      [1, 2, 3].map((day) => metadataPath(IDS.vm, T0 + day * DAY)),
    )
    assert.deepEqual(report.completeBackups, [metadataPath(IDS.vm, T0)])
  })

  it(
    'a 2 GiB sparse .json is refused from its size, never read into memory',
    { timeout: 120_000 },
    async () => {
      const fixture = await createRepoFixture()
      try {
        await fixture.putFullBackup(0)
        const huge = metadataPath(IDS.vm, T0 + DAY)
        await fixture.put(huge, '{')
        const handle = await open(join(fixture.repo, ...huge.split('/')), 'r+')
        await handle.truncate(2 * 1024 ** 3)
        await handle.close()
        const run = await runBounded('src/cli/main.ts', ['backups', 'list', '--json', fixture.url], {
          timeoutMs: 90_000,
        })
        assert.equal(run.timedOut, false)
        assert.equal(run.status, 0, run.stderr)
        const listed = JSON.parse(run.stdout) as Record<
          string,
          { backups: { id: string }[]; invalid: { path: string; message: string }[] }
        >
        assert.deepEqual(
          listed[IDS.vm]?.backups.map((b) => b.id),
          [metadataPath(IDS.vm, T0)],
        )
        assert.deepEqual(listed[IDS.vm]?.invalid, [
          { path: huge, message: `${huge}: expected at most 4194304 bytes, got 2147483648` },
        ])
        assert.ok(
          run.maxRssBytes !== undefined && run.maxRssBytes < 300 * 1024 ** 2,
          `RSS ${run.maxRssBytes}`,
        )
      } finally {
        await fixture.cleanup()
      }
    },
  )
})

describe('hostile metadata: paths that leave the VM folder', () => {
  let fixture: RepoFixture
  const ts = (day: number) => T0 + day * DAY
  before(async () => {
    fixture = await createRepoFixture()
    for (let day = 0; day < 3; day++) await fixture.putFullBackup(day)
    const { job, vdiA } = IDS
    // Each names a canary: above the repository, or in another VM's folder.
    await fixture.putFullBackup(3, { xva: '../../../canary.txt' })
    await fixture.putFullBackup(4, { xva: `../${OTHER_VM}/canary.xva` })
    // A full backup whose `xva` names another backup's metadata: deleting it must not delete that.
    await fixture.putFullBackup(5, { xva: `./${metadataPath(IDS.vm, ts(0)).split('/').at(-1) ?? ''}` })
    const delta = deltaMetadata(ts(6))
    await fixture.put(
      metadataPath(IDS.vm, ts(6)),
      JSON.stringify({
        ...delta,
        vhds: {
          'OpaqueRef:vdi-a': `../${OTHER_VM}/vdis/${job}/${vdiA}/canary.vhd`,
          'OpaqueRef:vdi-b': '../../../canary.vhd',
        },
      }),
    )
  })
  after(() => fixture.cleanup())

  it('lists those backups as invalid, naming the field and the escape', async () => {
    const { code, out } = await cli('backups', 'list', '--json', fixture.url)
    assert.equal(code, 0)
    const listed = JSON.parse(out) as Record<
      string,
      { backups: { id: string }[]; invalid: { path: string; message: string }[] }
    >
    assert.deepEqual(
      listed[IDS.vm]?.backups.map((b) => b.id),
      [0, 1, 2].map((day) => metadataPath(IDS.vm, ts(day))),
    )
    const messages = new Map((listed[IDS.vm]?.invalid ?? []).map((i) => [i.path, i.message]))
    assert.match(
      messages.get(metadataPath(IDS.vm, ts(3))) ?? '',
      /^xva: expected a path inside the VM folder, got "\.\.\/\.\.\/\.\.\/canary\.txt" \(resolves outside/,
    )
    assert.match(messages.get(metadataPath(IDS.vm, ts(4))) ?? '', /^xva: .*resolves outside/)
    assert.match(
      messages.get(metadataPath(IDS.vm, ts(5))) ?? '',
      /^xva: expected a \.xva file, got "\.\/20261101T000000Z\.json"/,
    )
    assert.match(
      messages.get(metadataPath(IDS.vm, ts(6))) ?? '',
      /^vhds\.OpaqueRef:vdi-a: .*resolves outside/,
    )
  })

  it('check --repair and delete leave every file outside the VM folder untouched', async () => {
    // --vm: the other VM's folder holds canaries, not backups; its own check would clean them up.
    const check = await cli('backups', 'check', fixture.url, '--vm', IDS.vm, '--repair')
    assert.equal(check.code, 0, check.err)
    assert.match(check.out, new RegExp(`unreadable-metadata: ${metadataPath(IDS.vm, ts(3))}`))
    assert.ok(await fixture.canariesIntact(), 'canaries intact after check --repair')

    for (const day of [3, 4, 5, 6]) {
      const hostile = await cli('backups', 'delete', fixture.url, metadataPath(IDS.vm, ts(day)))
      assert.equal(hostile.code, 1, `day ${day}: ${hostile.out}`)
      assert.match(hostile.err, /no such backup/)
    }
    const deleted = await cli('backups', 'delete', fixture.url, metadataPath(IDS.vm, ts(1)))
    assert.equal(deleted.code, 0, deleted.err)
    assert.ok(await fixture.canariesIntact(), 'canaries intact after delete')
    // The metadata that day 5's `xva` named is still there, with its content.
    const kept = await readFile(join(fixture.repo, ...metadataPath(IDS.vm, ts(0)).split('/')), 'utf8')
    assert.equal((JSON.parse(kept) as { timestamp: number }).timestamp, ts(0))
    await assert.rejects(stat(join(fixture.repo, ...metadataPath(IDS.vm, ts(1)).split('/'))))
    assert.ok(
      (await stat(join(fixture.repo, vmDir(OTHER_VM)))).isDirectory(),
      '(await stat(join(fixture.repo, vmDir(OTHER_VM)))).isDirectory()',
    )
  })
})
