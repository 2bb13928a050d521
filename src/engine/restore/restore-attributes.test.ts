import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  isBackupKey,
  RESTORED_TAG,
  restoredDescription,
  restoredName,
  restoredTags,
  withoutBackupKeys,
} from './restore-attributes.ts'

describe('restored VM attributes', () => {
  it('name: the original name and the backup timestamp', () => {
    assert.equal(restoredName('web', Date.UTC(2026, 0, 2, 3, 4, 5)), 'web (20260102T030405Z)')
  })

  it('description: when, from where, and the original description', () => {
    assert.equal(
      restoredDescription(Date.UTC(2026, 5, 1, 12), 'nfs://nas/backups', 'the web server'),
      'Restored on 2026-06-01T12:00:00.000Z from nfs://nas/backups - the web server',
    )
  })

  it('tags: the original ones and the restore tag, once each', () => {
    assert.deepEqual(restoredTags(['prod', RESTORED_TAG, 'prod', 3]), ['prod', RESTORED_TAG])
    assert.deepEqual(restoredTags(undefined), [RESTORED_TAG])
  })

  it('backup bookkeeping keys are dropped, everything else kept', () => {
    const keys = ['xo:backup:job', 'xo:backup:sr', 'xo:backup:datetime', 'xo:copy_of', 'xo:base_delta_vdi']
    for (const key of keys) assert.equal(isBackupKey(key), true, key)
    for (const key of ['owner', 'xo:resource_set', 'xo:backup', 'mac_seed'])
      assert.equal(isBackupKey(key), false, key)
    assert.deepEqual(
      withoutBackupKeys({
        owner: 'ops',
        'xo:backup:vm': 'x',
        'xo:copy_of': 'y',
        'xo:base_delta_vdi': null,
        n: 1,
      }),
      { owner: 'ops' },
    )
    for (const bad of [undefined, null, 'x', ['a']]) assert.deepEqual(withoutBackupKeys(bad), {})
  })
})
