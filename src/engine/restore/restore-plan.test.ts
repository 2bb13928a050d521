import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DeltaBackupMetadata } from '../../repository/metadata.ts'
import { diskUuids, planRestoredDisks } from './restore-plan.ts'

const JOB = '8c1a6a4e-3d2b-4c5e-9f10-112233445566'
const SYSTEM = 'aaaaaaaa-1111-4222-8333-444444444444'
const DATA = 'bbbbbbbb-1111-4222-8333-444444444444'

const metadata = {
  mode: 'delta',
  vbds: {
    'OpaqueRef:vbd-data': { VDI: 'OpaqueRef:data', userdevice: '1' },
    'OpaqueRef:vbd-sys': { VDI: 'OpaqueRef:sys', userdevice: '0' },
  },
  vdis: {
    'OpaqueRef:data': { uuid: '22222222-1111-4222-8333-444444444444' },
    'OpaqueRef:sys': {
      uuid: '11111111-1111-4222-8333-444444444444',
      $snapshot_of$uuid: SYSTEM.toUpperCase(),
    },
  },
  vhds: {
    'OpaqueRef:data': `vdis/${JOB}/${DATA}/20260101T000000Z.vhd`,
    'OpaqueRef:sys': `vdis/${JOB}/${SYSTEM}/20260101T000000Z.vhd`,
  },
} as unknown as DeltaBackupMetadata

describe('planRestoredDisks', () => {
  it('every disk onto the SR, in userdevice order', () => {
    assert.deepEqual(planRestoredDisks(metadata, 'OpaqueRef:sr'), [
      { vdiRef: 'OpaqueRef:sys', srRef: 'OpaqueRef:sr' },
      { vdiRef: 'OpaqueRef:data', srRef: 'OpaqueRef:sr' },
    ])
  })

  it('a disk is found by its snapshot VDI uuid, its live VDI uuid or its chain folder, in any case', () => {
    assert.deepEqual(diskUuids(metadata, 'OpaqueRef:sys'), ['11111111-1111-4222-8333-444444444444', SYSTEM])
    for (const key of ['22222222-1111-4222-8333-444444444444', DATA, DATA.toUpperCase()])
      assert.deepEqual(planRestoredDisks(metadata, 'OpaqueRef:sr', new Map([[key, 'OpaqueRef:other']])), [
        { vdiRef: 'OpaqueRef:sys', srRef: 'OpaqueRef:sr' },
        { vdiRef: 'OpaqueRef:data', srRef: 'OpaqueRef:other' },
      ], key) // prettier-ignore
  })

  it('null skips a disk; skipping all leaves none', () => {
    assert.deepEqual(planRestoredDisks(metadata, 'OpaqueRef:sr', new Map([[SYSTEM, null]])), [
      { vdiRef: 'OpaqueRef:data', srRef: 'OpaqueRef:sr' },
    ])
    assert.deepEqual(
      planRestoredDisks(
        metadata,
        'r',
        new Map([
          [SYSTEM, null],
          [DATA, null],
        ]),
      ),
      [],
    )
  })

  it('refuses a uuid that is no disk of the backup, naming it and the disks there are', () => {
    assert.throws(
      () => planRestoredDisks(metadata, 'r', new Map([['99999999-1111-4222-8333-444444444444', null]])),
      (error: Error & { code?: string }) =>
        error.code === 'RESTORE_INVALID' &&
        error.message.startsWith('disk 99999999-1111-4222-8333-444444444444: not a disk of this backup') &&
        error.message.includes(DATA),
    )
  })

  it('a vhds path outside the vdis/<job>/<vdi>/ shape gives no folder uuid', () => {
    const odd = {
      ...metadata,
      vhds: { 'OpaqueRef:sys': `../${SYSTEM}/x.vhd` },
    } as unknown as DeltaBackupMetadata
    assert.deepEqual(diskUuids(odd, 'OpaqueRef:sys'), ['11111111-1111-4222-8333-444444444444', SYSTEM])
    assert.deepEqual(diskUuids(odd, 'OpaqueRef:none'), [])
  })
})
