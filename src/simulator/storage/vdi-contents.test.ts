import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BlockStore, VDI_BLOCK_BYTES } from './block-store.ts'
import { VdiContents } from './vdi-contents.ts'

const SIZE = 5 * VDI_BLOCK_BYTES

function read(contents: VdiContents, handle: string): Buffer {
  const out = Buffer.alloc(SIZE)
  for (let i = 0; i < 5; i++) contents.readBlock(handle, i).copy(out, i * VDI_BLOCK_BYTES)
  return out
}

// A deterministic generator so the property test is the same everywhere.
function lcg(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

describe('VdiContents', () => {
  it('matches a byte model under random writes, snapshots, clones and releases; deltas are exact', () => {
    const store = new BlockStore()
    const contents = new VdiContents(store)
    const random = lcg(12345)
    const models = new Map<string, Buffer>([['live', Buffer.alloc(SIZE)]])
    contents.bind('live')
    for (let step = 0; step < 200; step++) {
      const handles = [...models.keys()]
      const handle = handles[Math.floor(random() * handles.length)] ?? 'live'
      const action = random()
      if (action < 0.6) {
        const offset = Math.floor(random() * (SIZE - 1))
        const length = 1 + Math.floor(random() * Math.min(SIZE - offset, VDI_BLOCK_BYTES * 1.5))
        const data = Buffer.alloc(length, Math.floor(random() * 255) + 1)
        const before = contents.blockIndexes(handle)
        contents.write(handle, offset, data)
        data.copy(models.get(handle) ?? Buffer.alloc(0), offset)
        const touched = new Set<number>()
        for (
          let i = Math.floor(offset / VDI_BLOCK_BYTES);
          i <= Math.floor((offset + length - 1) / VDI_BLOCK_BYTES);
          i++
        )
          touched.add(i)
        assert.deepEqual(
          contents.blockIndexes(handle),
          [...new Set([...before, ...touched])].sort((a, b) => a - b),
        )
      } else if (action < 0.85) {
        const copy = `h${step}`
        contents.bind(copy, handle)
        models.set(copy, Buffer.from(models.get(handle) ?? Buffer.alloc(0)))
        assert.deepEqual(contents.changedBlocks(copy, handle), [])
      } else if (handle !== 'live') {
        contents.release(handle)
        models.delete(handle)
      }
    }
    for (const [handle, model] of models) assert.deepEqual(read(contents, handle), model, handle)
    // A delta contains every block whose bytes differ (and possibly rewritten-equal ones).
    for (const handle of models.keys()) {
      const changed = new Set(contents.changedBlocks('live', handle))
      for (let i = 0; i < 5; i++) {
        const a = models.get('live')?.subarray(i * VDI_BLOCK_BYTES, (i + 1) * VDI_BLOCK_BYTES)
        const b = models.get(handle)?.subarray(i * VDI_BLOCK_BYTES, (i + 1) * VDI_BLOCK_BYTES)
        if (!(a?.equals(b ?? Buffer.alloc(0)) ?? false)) assert.ok(changed.has(i), `block ${i} of ${handle}`)
      }
    }
    for (const handle of [...models.keys()]) contents.release(handle)
    assert.equal(store.liveSlots, 0, 'every slot is freed once nothing holds it')
    store.close()
  })

  it('counts allocated bytes and refuses unknown handles', () => {
    const store = new BlockStore()
    const contents = new VdiContents(store)
    contents.bind('a')
    contents.write('a', VDI_BLOCK_BYTES - 1, Buffer.from([1, 2]))
    assert.equal(contents.allocatedBytes('a'), 2 * VDI_BLOCK_BYTES)
    assert.ok(
      contents.isAllocated('a', 1) && !contents.isAllocated('a', 2),
      "contents.isAllocated('a', 1) && !contents.isAllocated('a', 2)",
    )
    assert.throws(() => contents.blockIndexes('nope'), /no VDI contents for handle nope/)
    store.close()
  })
})
