import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SimulatorDb } from './db.ts'
import { NULL_REF } from './types.ts'

function smallDb() {
  const db = new SimulatorDb()
  const sr = db.create('SR', { name_label: 'sr' })
  const vm = db.create('VM', { name_label: 'vm' })
  const vdi = db.create('VDI', { SR: sr, virtual_size: 1, type: 'user' })
  return { db, sr, vm, vdi }
}

describe('SimulatorDb', () => {
  it('fills defaults, generates a uuid and refuses a missing mandatory field', () => {
    const { db, vm } = smallDb()
    const record = db.get('VM', vm)
    assert.match(record.uuid as string, /^[0-9a-f-]{36}$/)
    assert.equal(record.power_state, 'Halted')
    assert.equal(record.snapshot_of, NULL_REF)
    assert.throws(() => db.create('VDI', { SR: NULL_REF }), { code: 'INTERNAL_ERROR' })
    assert.throws(() => db.get('VM', 'OpaqueRef:x'), {
      code: 'HANDLE_INVALID',
      params: ['VM', 'OpaqueRef:x'],
    })
  })

  it('keeps bound fields consistent on create, update and destroy', () => {
    const { db, sr, vm, vdi } = smallDb()
    assert.deepEqual(db.get('SR', sr).VDIs, [vdi])
    const vbd = db.create('VBD', {
      VM: vm,
      VDI: vdi,
      userdevice: '0',
      bootable: true,
      mode: 'RW',
      type: 'Disk',
      empty: false,
    })
    assert.deepEqual(db.get('VM', vm).VBDs, [vbd])
    assert.deepEqual(db.get('VDI', vdi).VBDs, [vbd])
    const other = db.create('VM', { name_label: 'other' })
    db.update('VBD', vbd, { VM: other })
    assert.deepEqual(db.get('VM', vm).VBDs, [])
    assert.deepEqual(db.get('VM', other).VBDs, [vbd])
    db.destroy('VBD', vbd)
    assert.deepEqual(db.get('VM', other).VBDs, [])
    assert.deepEqual(db.get('VDI', vdi).VBDs, [])
  })

  it('reports adds, mods and dels by generation', () => {
    const { db, vm, vdi } = smallDb()
    const since = db.currentGeneration
    db.create('VM', { name_label: 'new' })
    db.update('VM', vm, { name_description: 'changed' })
    db.destroy('VDI', vdi)
    const classes = new Set(['VM', 'VDI', 'SR'])
    const changed = db
      .changedSince(since, classes)
      .map((o) => `${o.cls} ${o.created > since ? 'add' : 'mod'}`)
    // The SR is modified too: its bound VDIs set lost the destroyed VDI.
    assert.deepEqual(changed.sort(), ['SR mod', 'VM add', 'VM mod'])
    assert.deepEqual(
      db.deletedSince(since, classes).map((d) => d.ref),
      [vdi],
    )
    assert.deepEqual(db.deletedSince(db.currentGeneration, classes), [])
  })

  it('forgets old deletions beyond its bound and says up to which generation', () => {
    const db = new SimulatorDb({ maxTombstones: 4 })
    const refs = Array.from({ length: 5 }, () => db.create('task', {}))
    const since = db.currentGeneration
    for (const ref of refs) db.destroy('task', ref)
    assert.ok(db.forgottenGeneration > since, 'db.forgottenGeneration > since')
    assert.equal(db.deletedSince(since, new Set(['task'])).length, 3)
  })
})
