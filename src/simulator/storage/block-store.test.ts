import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { BlockRecipe } from './block-content.ts'
import { fillBlock } from './block-content.ts'
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
    assert.ok(
      shortBlock.subarray(5).every((byte) => byte === 0),
      'shortBlock.subarray(5).every((byte) => byte === 0)',
    )
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
    assert.ok(existsSync(dir), 'existsSync(dir)')
    store.close()
    assert.ok(!existsSync(dir), '!existsSync(dir)')
  })

  it('writes a generated slot to its place in the file on its first read, or all of them on materialize', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'block-store-'))
    const size = () => statSync(join(dir, 'blocks.bin')).size
    const recipe = (index: number): BlockRecipe => ({
      key: 3,
      index,
      pattern: 'random',
      validBytes: VDI_BLOCK_BYTES,
    })
    const expected = (index: number) => fillBlock(recipe(index), Buffer.alloc(VDI_BLOCK_BYTES))
    const store = new BlockStore(dir)
    try {
      const [a, b, c] = [0, 1, 2].map((index) => store.allocateGenerated(recipe(index))) as [
        number,
        number,
        number,
      ]
      assert.equal(size(), 0, 'nothing written at allocation')
      assert.deepEqual(await store.readAsync(b), expected(1))
      assert.equal(size(), (b + 1) * VDI_BLOCK_BYTES, 'the read block was written at its slot')
      assert.deepEqual(store.read(b), expected(1), 'and reads back the same')
      store.release(c)
      assert.equal(
        store.allocate(Buffer.from('plain')),
        c,
        'a freed generated slot is reused for plain bytes',
      )
      assert.equal(store.read(c).subarray(0, 5).toString(), 'plain')
      store.materialize()
      assert.equal(size(), 3 * VDI_BLOCK_BYTES)
      assert.deepEqual(store.read(a), expected(0))
      assert.equal(store.read(c).subarray(0, 5).toString(), 'plain', 'materialize leaves plain slots alone')
    } finally {
      store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
