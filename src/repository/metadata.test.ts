import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { filesOf } from './listing.ts'
import { vmDir } from './layout.ts'
import { parseBackupMetadata } from './metadata.ts'
import { deltaMetadata, fullMetadata, IDS } from './testing/sample-metadata.ts'

const t = Date.UTC(2026, 10, 27, 3, 4, 5)
const rejects = (value: unknown, code: string, message: RegExp) => {
  assert.throws(
    () => parseBackupMetadata(typeof value === 'string' ? value : JSON.stringify(value), 'vm/x.json'),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, code)
      assert.match(e.message, /^vm\/x\.json: /)
      assert.match(e.message, message)
      return true
    },
  )
}

describe('backup metadata', () => {
  it('accepts XO full and delta metadata and keeps unknown fields', () => {
    const full = { ...fullMetadata(t), futureField: { nested: true } }
    assert.deepEqual(parseBackupMetadata(JSON.stringify(full), 'p'), full)
    const delta = { ...deltaMetadata(t), includeNonNbdQcow2Fix: true, vtpms: [] }
    assert.deepEqual(parseBackupMetadata(JSON.stringify(delta), 'p'), delta)
  })

  it('names the file and the field when the content is wrong', () => {
    rejects('{"version":"2.0.0","mode":"full"', 'METADATA_INVALID', /not valid JSON/)
    rejects(
      { ...fullMetadata(t), version: '1.0.0' },
      'METADATA_UNSUPPORTED_VERSION',
      /version: expected "2\.0\.0", got "1\.0\.0"/,
    )
    rejects({ ...fullMetadata(t), timestamp: 'yesterday' }, 'METADATA_INVALID', /timestamp/)
    rejects({ ...fullMetadata(t), size: 2 ** 60 }, 'METADATA_INVALID', /size/)
    rejects({ ...fullMetadata(t), size: -1 }, 'METADATA_INVALID', /size/)
    rejects({ ...fullMetadata(t), mode: 'mirror' }, 'METADATA_INVALID', /mode/)
    rejects({ ...fullMetadata(t), vm: { uuid: '../x' } }, 'METADATA_INVALID', /vm\.uuid: expected a UUID/)
    rejects(
      { ...deltaMetadata(t), vhds: { 'OpaqueRef:ghost': 'vdis/x.vhd' } },
      'METADATA_INVALID',
      /refs without a VDI record: OpaqueRef:ghost/,
    )
    rejects([], 'METADATA_INVALID', /mode|\(root\)/)
  })

  it('resolves the files a backup names, refusing any that leaves the VM folder', () => {
    const dir = vmDir(IDS.vm)
    assert.deepEqual(filesOf(fullMetadata(t), dir), [`${dir}/20261127T030405Z.xva`])
    assert.deepEqual(filesOf(deltaMetadata(t), dir), [
      `${dir}/vdis/${IDS.job}/${IDS.vdiA}/20261127T030405Z.vhd`,
      `${dir}/vdis/${IDS.job}/${IDS.vdiB}/20261127T030405Z.vhd`,
    ])
    assert.throws(
      () => filesOf({ ...fullMetadata(t), xva: '../../../etc/shadow' }, dir),
      /xva: expected a path inside the VM folder/,
    )
  })
})
