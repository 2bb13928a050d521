import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DiskType, VHD_EPOCH_MS } from './constants.ts'
import { createFooter, decodeFooter, encodeFooter, validateFooter } from './footer.ts'
import { computeGeometry, geometrySize } from './geometry.ts'
import { createHeader, decodeHeader, encodeHeader, validateHeader } from './header.ts'

const uuid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'

describe('VHD codecs', () => {
  it('computes the CHS geometry qemu-img writes (tooling.md §1.2.2)', () => {
    const table: [number, number, number, number][] = [
      [1079296, 31, 4, 17],
      [104865792, 1004, 12, 17],
      [1073995776, 2081, 16, 63],
      [8590417920, 16645, 16, 63],
      [136365219840, 65279, 16, 255],
      [200 * 1024 ** 3, 65535, 16, 255],
    ]
    for (const [size, cylinders, heads, sectorsPerTrack] of table) {
      assert.deepEqual(computeGeometry(size), { cylinders, heads, sectorsPerTrack }, `size ${size}`)
    }
    assert.equal(geometrySize(computeGeometry(104865792)), 104865792)
  })

  it('round-trips a footer, counts time from 2000-01-01 and writes creator tap\\0', () => {
    const footer = createFooter({
      virtualSize: 10 * 2 ** 20,
      diskType: DiskType.dynamic,
      uniqueId: uuid,
      timestampMs: VHD_EPOCH_MS + 86_400_000,
    })
    const bytes = encodeFooter(footer)
    assert.equal(Buffer.from(bytes.subarray(0, 8)).toString('latin1'), 'conectix')
    assert.equal(Buffer.from(bytes.subarray(28, 32)).toString('latin1'), 'tap\0')
    assert.deepEqual(decodeFooter(bytes), footer)
    assert.equal(footer.timestamp, 86_400)
    assert.deepEqual(validateFooter(bytes, 'f', 0), [])
  })

  it('reports a flipped byte as a checksum issue with both values', () => {
    const bytes = encodeFooter(
      createFooter({ virtualSize: 2 ** 20, diskType: DiskType.dynamic, uniqueId: uuid, timestampMs: 0 }),
    )
    bytes[45] = (bytes[45] ?? 0) ^ 1
    const issues = validateFooter(bytes, 'f.vhd', 1000)
    assert.equal(issues.length, 1)
    assert.equal(issues[0]?.field, 'footer.checksum')
    assert.equal(issues.at(0)?.offset, 1064)
  })

  it('round-trips a differencing header with a UTF-16BE parent name', () => {
    const header = createHeader({
      tableOffset: 1536,
      maxTableEntries: 5,
      blockSize: 2 ** 21,
      parent: { uniqueId: uuid, relativePath: '20260101T000000Z.vhd', timestamp: 7 },
    })
    const bytes = encodeHeader(header)
    assert.equal(Buffer.from(bytes.subarray(64, 68)).toString('hex'), '00320030')
    assert.deepEqual(decodeHeader(bytes), header)
    assert.deepEqual(validateHeader(bytes, 'h', 512, 5 * 2 ** 21), [])
    assert.equal(validateHeader(bytes, 'h', 512, 6 * 2 ** 21)[0]?.field, 'header.maxTableEntries')
  })
})
