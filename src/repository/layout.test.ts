import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { metadataPath, parseBackupFileName, resolveInVmDir, vhdPath, vmDir, xvaPath } from './layout.ts'
import { IDS } from './testing/sample-metadata.ts'

const t = Date.UTC(2026, 10, 27, 3, 4, 5)

describe('repository layout', () => {
  it("builds the seed's paths", () => {
    assert.equal(vmDir(IDS.vm), `xo-vm-backups/${IDS.vm}`)
    assert.equal(metadataPath(IDS.vm, t), `xo-vm-backups/${IDS.vm}/20261127T030405Z.json`)
    assert.equal(xvaPath(IDS.vm, t), `xo-vm-backups/${IDS.vm}/20261127T030405Z.xva`)
    assert.equal(
      vhdPath(IDS.vm, IDS.job, IDS.vdiA, t),
      `xo-vm-backups/${IDS.vm}/vdis/${IDS.job}/${IDS.vdiA}/20261127T030405Z.vhd`,
    )
  })

  it('refuses ids that are not UUIDs (no path can be smuggled in)', () => {
    for (const bad of ['../../etc', '', `${IDS.vm}/..`, 'x']) {
      assert.throws(() => vmDir(bad), /PATH_INVALID|VM uuid: expected a UUID/)
      assert.throws(() => vhdPath(IDS.vm, bad, IDS.vdiA, t), /job id: expected a UUID/)
    }
  })

  it('parses backup file names, including older forms, and ignores others', () => {
    assert.deepEqual(parseBackupFileName('20261127T030405Z.json'), {
      stem: '20261127T030405Z',
      timestampMs: t,
      kind: 'metadata',
    })
    assert.equal(parseBackupFileName('20261127T030405Z.xva.checksum')?.kind, 'xva-checksum')
    assert.equal(parseBackupFileName('20261127T030405.vhd')?.timestampMs, t)
    for (const other of [
      'cache.json.gz',
      '.20261127T030405Z.json.tmp',
      '20261127T030405Z.alias.vhd',
      'x.json',
      '20261399T000000Z.json',
    ]) {
      assert.equal(parseBackupFileName(other), undefined, other)
    }
  })

  it('resolves metadata paths inside the VM folder only, through the confinement gate', () => {
    const dir = vmDir(IDS.vm)
    assert.equal(resolveInVmDir(dir, './20261127T030405Z.xva', 'xva'), `${dir}/20261127T030405Z.xva`)
    assert.equal(resolveInVmDir(dir, 'vdis/j/v/x.vhd', 'vhds.r'), `${dir}/vdis/j/v/x.vhd`)
    // Normalised like any reference: a detour that stays in the VM folder names the same file.
    assert.equal(resolveInVmDir(dir, `../${IDS.vm}/vdis/./j//x.vhd`, 'vhds.r'), `${dir}/vdis/j/x.vhd`)
    const other = 'ffffffff-1111-4222-8333-444444444444'
    for (const [hostile, code] of [
      ['../other/x.xva', 'PATH_ESCAPE'],
      [`../${other}/vdis/j/v/x.vhd`, 'PATH_ESCAPE'],
      ['vdis/../../x', 'PATH_ESCAPE'],
      ['../../../etc/passwd', 'PATH_ESCAPE'],
      ['..', 'PATH_ESCAPE'],
      ['/etc/passwd', 'PATH_INVALID'],
      ['', 'PATH_INVALID'],
      ['a\\..\\b', 'PATH_INVALID'],
      ['x\0y', 'PATH_INVALID'],
      ['vdis/', 'PATH_INVALID'],
    ] as const) {
      assert.throws(
        () => resolveInVmDir(dir, hostile, 'vhds.OpaqueRef:1'),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, code, hostile)
          assert.match(e.message, /^vhds\.OpaqueRef:1: expected a path inside the VM folder, got /)
          return true
        },
        hostile,
      )
    }
  })
})
