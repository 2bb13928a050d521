import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { normalizeEventBatch, normalizeRecord, normalizeRecordMap } from './records.ts'

describe('record normalisation', () => {
  it('turns XML-RPC digit strings of int fields into numbers and leaves other strings alone', () => {
    const vdi = normalizeRecord(
      'VDI',
      { virtual_size: '10737418240', name_label: '123', VBDs: [] },
      'VDI.get_record',
    )
    assert.equal(vdi.virtual_size, 10737418240)
    assert.equal(vdi.name_label, '123')
    const map = normalizeRecordMap('SR', { 'OpaqueRef:sr': { physical_size: '42' } }, 'SR.get_all_records')
    assert.equal(map.get('OpaqueRef:sr')?.physical_size, 42)
    assert.throws(
      () => normalizeRecord('VM', 'OpaqueRef:x', 'VM.get_record'),
      /VM.get_record: expected a VM record/,
    )
  })

  it('checks event.from answers and normalises typed snapshots (xapi.md §1.7)', () => {
    const batch = normalizeEventBatch(
      {
        events: [
          {
            id: '7',
            timestamp: '0.0',
            class: 'vdi',
            operation: 'mod',
            ref: 'OpaqueRef:v',
            snapshot: { virtual_size: '512' },
          },
          { id: '8', class: 'vm', operation: 'del', ref: 'OpaqueRef:m' },
        ],
        valid_ref_counts: { vdi: '3' },
        token: '00000000000000000008,00000000000000000000',
      },
      'event.from',
    )
    assert.deepEqual(batch.events[0]?.snapshot, { virtual_size: 512 })
    assert.equal(batch.events[1]?.snapshot, undefined)
    assert.deepEqual(batch.valid_ref_counts, { vdi: 3 })
    assert.throws(
      () =>
        normalizeEventBatch(
          { events: [{ class: 'vm', operation: 'upd', ref: 'r' }], token: 't' },
          'event.from',
        ),
      /add, mod or del/,
    )
  })
})
