import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { VDI_BLOCK_BYTES } from './block-store.ts'
import { SrUsage } from './sr-usage.ts'

describe('SrUsage', () => {
  it('counts a slot once per SR however many VDIs hold it, and frees it with its last holder', () => {
    const usage = new SrUsage()
    usage.add('sr-a', 7)
    usage.add('sr-a', 7)
    usage.add('sr-a', 8)
    usage.add('sr-b', 7)
    assert.equal(usage.bytes('sr-a'), 2 * VDI_BLOCK_BYTES)
    assert.equal(usage.bytes('sr-b'), VDI_BLOCK_BYTES)
    assert.equal(usage.holdersOf('sr-a', 7), 2)
    usage.remove('sr-a', 7)
    assert.equal(usage.bytes('sr-a'), 2 * VDI_BLOCK_BYTES, 'one holder left')
    usage.remove('sr-a', 7)
    assert.equal(usage.bytes('sr-a'), VDI_BLOCK_BYTES)
    assert.equal(usage.holdersOf('sr-a', 7), 0)
    usage.remove('sr-a', 7)
    usage.remove('sr-none', 1)
    assert.equal(usage.bytes('sr-a'), VDI_BLOCK_BYTES, 'removing what is not held changes nothing')
    assert.equal(usage.bytes('sr-none'), 0)
  })
})
