import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { BlockStore, VDI_BLOCK_BYTES } from './block-store.ts'

describe('BlockStore', () => {
  it('stores blocks in slots, pads short ones, reuses freed slots and clears old bytes', async () => {
    const store = new BlockStore()
    const full = Buffer.alloc(VDI_BLOCK_BYTES, 7)
    const a = store.allocate(full)
    const b = store.allocate(Buffer.from('short'))
    assert.notEqual(a, b)
    assert.deepEqual(store.read(a), full)
    const shortBlock = store.read(b)
    assert.equal(shortBlock.subarray(0, 5).toString(), 'short')
    assert.ok(shortBlock.subarray(5).every((byte) => byte === 0))
    assert.deepEqual(await store.readAsync(b), shortBlock)
    store.retain(a)
    store.release(a)
    assert.equal(store.liveSlots, 2, 'a retained slot survives one release')
    store.release(a)
    assert.equal(store.liveSlots, 1)
    const reused = store.allocate(Buffer.from('x'))
    assert.equal(reused, a, 'the freed slot is reused')
    assert.ok(
      store
        .read(reused)
        .subarray(1)
        .every((byte) => byte === 0),
      'no stale bytes from the old block',
    )
    store.close()
  })

  it('refuses a block larger than 2 MiB and removes its temp directory on close', () => {
    const store = new BlockStore()
    assert.throws(() => store.allocate(Buffer.alloc(VDI_BLOCK_BYTES + 1)), RangeError)
    const dir = (store as unknown as { ownedDir: string }).ownedDir
    assert.ok(existsSync(dir))
    store.close()
    assert.ok(!existsSync(dir))
  })
})
