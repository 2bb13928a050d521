import assert from 'node:assert/strict'
import { mkdtemp, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { bufferBlockSource, createRandom, randomSparseDisk } from '../formats/vhd/testing/random-disk.ts'
import { openLocalRemote } from '../remotes/local/local-remote.ts'
import { writeFullBackup } from '../repository/backup-writer.ts'
import { writeDeltaBackup } from '../repository/delta-writer.ts'
import { metadataPath, vhdPath } from '../repository/layout.ts'
import { deltaMetadata, fullMetadata, IDS } from '../repository/testing/sample-metadata.ts'
import { newUuid } from '../shared/ids.ts'
import { cli } from './testing/run-cli.ts'

const MiB = 1024 * 1024
const day = 86_400_000
const t0 = Date.UTC(2026, 10, 1)
let dir = ''

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-backups-'))
  const remote = await openLocalRemote(dir)
  const random = createRandom(9)
  const { jobId, scheduleId, vm, vmSnapshot, vdis, vifs } = deltaMetadata(t0)
  for (let i = 0; i < 3; i++) {
    const raw = randomSparseDisk(random, 4 * MiB, 2)
    await writeDeltaBackup(remote, {
      metadata: {
        jobId,
        scheduleId,
        vm,
        vmSnapshot,
        vbds: {},
        vdis: { 'OpaqueRef:vdi-a': vdis['OpaqueRef:vdi-a'] ?? {} },
        vifs,
      },
      timestampMs: t0 + i * day,
      disks: [
        {
          vdiRef: 'OpaqueRef:vdi-a',
          vdiUuid: IDS.vdiA,
          source: bufferBlockSource(raw),
          uniqueId: newUuid(),
          ...(i === 0 ? {} : { parentTimestampMs: t0 + (i - 1) * day }),
        },
      ],
    })
  }
  async function* xva() {
    yield await Promise.resolve(new Uint8Array(2048).fill(3))
  }
  const full = fullMetadata(t0)
  await writeFullBackup(remote, {
    metadata: { jobId: full.jobId, scheduleId: full.scheduleId, vm: full.vm, vmSnapshot: full.vmSnapshot },
    timestampMs: t0 + 10 * day,
    xva: xva(),
  })
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('xapi-backup backups', () => {
  it('lists the backups of every VM, oldest first', async () => {
    const { code, out, err } = await cli('backups', 'list', `file://${dir}`)
    assert.equal(code, 0, err)
    const lines = out.trimEnd().split('\n')
    assert.equal(lines[0], `${IDS.vm}: 4 backup(s)`)
    assert.match(lines[1] ?? '', /^ {2}2026-11-01T00:00:00Z {2}delta .* key$/)
    assert.match(lines[2] ?? '', /^ {2}2026-11-02T00:00:00Z {2}delta .* delta$/)
    assert.match(lines[4] ?? '', /^ {2}2026-11-11T00:00:00Z {2}full .* xva$/)
    const json = JSON.parse(
      (await cli('backups', 'list', `file://${dir}`, '--vm', IDS.vm, '--json')).out,
    ) as Record<string, { backups: { id: string }[] }>
    assert.equal(json[IDS.vm]?.backups.length, 4)
  })

  it('checks (exit 0 when sound, 1 with findings) and repairs only with --repair', async () => {
    assert.equal((await cli('backups', 'check', `file://${dir}`)).code, 0)
    await unlink(join(dir, vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0 + 2 * day)))
    const dry = await cli('backups', 'check', `file://${dir}`, '--vm', IDS.vm)
    assert.equal(dry.code, 1)
    assert.match(
      dry.out,
      /incomplete-backup: .*20261103T000000Z\.json: backup is incomplete: missing .*20261103T000000Z\.vhd {2}\[repair deletes\]/,
    )
    assert.equal((await cli('backups', 'check', `file://${dir}`)).code, 1, 'a dry run changed nothing')
    const repaired = await cli('backups', 'check', `file://${dir}`, '--repair')
    assert.equal(repaired.code, 0, repaired.err)
    assert.match(repaired.out, /repaired: 1 file\(s\) deleted/)
    assert.equal((await cli('backups', 'check', `file://${dir}`)).code, 0)
  })

  it('deletes a backup by id, merging it away when a kept delta needs it', async () => {
    const id = metadataPath(IDS.vm, t0)
    const { code, out, err } = await cli('backups', 'delete', `file://${dir}`, id)
    assert.equal(code, 0, err)
    assert.equal(out, `${IDS.vm}: deleted 1 backup(s), 1 merge(s), 0 unused disk(s) removed\n`)
    const listed = await cli('backups', 'list', `file://${dir}`)
    assert.match(listed.out, /^ {2}2026-11-02T00:00:00Z {2}delta .* key$/m)
    assert.equal((await cli('backups', 'check', `file://${dir}`)).code, 0)
  })

  it('refuses ids outside the layout and unknown backups', async () => {
    const bad = await cli('backups', 'delete', `file://${dir}`, '../../etc/passwd')
    assert.equal(bad.code, 2)
    assert.match(bad.err, /invalid backup id "..\/..\/etc\/passwd"/)
    const missing = await cli('backups', 'delete', `file://${dir}`, metadataPath(IDS.vm, t0 + 99 * day))
    assert.equal(missing.code, 1)
    assert.match(missing.err, /no such backup/)
  })

  it('says so on an empty remote, takes a bare absolute path, refuses file://relative with the form to write', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cli-backups-empty-'))
    try {
      for (const command of ['list', 'check']) {
        const run = await cli('backups', command, empty)
        assert.deepEqual(run, { code: 0, out: `no backups in file://${empty}\n`, err: '' }, command)
      }
      const vm = await cli('backups', 'list', `file://${empty}`, '--vm', IDS.vm)
      assert.equal(vm.out, `no backups of VM ${IDS.vm} in file://${empty}\n`)
      const listed = await cli('backups', 'list', dir)
      assert.equal(listed.code, 0, listed.err)
      assert.match(listed.out, new RegExp(`^${IDS.vm}: \\d+ backup\\(s\\)$`, 'm'))
      const relative = await cli('backups', 'list', 'file://srv/backups')
      assert.equal(relative.code, 2)
      assert.match(
        relative.err,
        /^error: .*file:\/\/srv\/backups is not an absolute path.* hint: write file:\/\/\/absolute\/path, e\.g\. file:\/\/\/.+\/srv\/backups\n$/,
      )
      const badVm = await cli('backups', 'list', empty, '--vm', 'not-a-uuid')
      assert.equal(badVm.code, 2)
      assert.match(badVm.err, /^error: .*--vm.*expected a VM UUID, got "not-a-uuid".*\n$/)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })
})
