import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { XapiFault } from '../xapi-fault.ts'
import { CBT_BLOCK_BYTES, CbtLogs } from './cbt-logs.ts'

const SIZE = 16 * CBT_BLOCK_BYTES

function bits(bitmap: string): string {
  return [...Buffer.from(bitmap, 'base64')].map((byte) => byte.toString(2).padStart(8, '0')).join('')
}

describe('CbtLogs', () => {
  it('chains logs over snapshots and ORs the logs after `from` up to `to`, MSB first', () => {
    const cbt = new CbtLogs()
    cbt.recordWrite('vdi', 0, 10) // not enabled: ignored
    cbt.enable('vdi')
    cbt.recordWrite('vdi', 0, 1)
    cbt.snapshot('vdi', 's1')
    cbt.recordWrite('vdi', CBT_BLOCK_BYTES, 1)
    cbt.recordWrite('vdi', 2 * CBT_BLOCK_BYTES - 1, 2)
    cbt.snapshot('vdi', 's2')
    cbt.recordWrite('vdi', 15 * CBT_BLOCK_BYTES, 5)
    cbt.snapshot('vdi', 's3')
    assert.equal(bits(cbt.listChanged('s1', 's2', SIZE)), '0110000000000000')
    assert.equal(bits(cbt.listChanged('s1', 's3', SIZE)), '0110000000000001')
    assert.equal(bits(cbt.listChanged('s2', 'vdi', SIZE)), '0000000000000001')
    assert.equal(bits(cbt.listChanged('s3', 'vdi', SIZE)), '0000000000000000')
    cbt.forget('s2') // a destroyed middle snapshot still links the chain
    assert.equal(bits(cbt.listChanged('s1', 's3', SIZE)), '0110000000000001')
  })

  it('fails with SR_BACKEND_FAILURE_460 for the same, reversed, unrelated or untracked VDIs', () => {
    const cbt = new CbtLogs()
    cbt.enable('a')
    cbt.snapshot('a', 'a1')
    cbt.enable('b')
    for (const [from, to] of [
      ['a1', 'a1'],
      ['a', 'a1'],
      ['a1', 'b'],
      ['x', 'a'],
    ]) {
      assert.throws(
        () => cbt.listChanged(from ?? '', to ?? '', SIZE),
        (error: unknown) => {
          assert.ok(error instanceof XapiFault, 'error instanceof XapiFault')
          assert.equal(error.code, 'SR_BACKEND_FAILURE_460')
          return true
        },
      )
    }
  })
})
