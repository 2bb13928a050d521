import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { encodeBat } from './bat.ts'
import { DiskType, UNUSED_BAT_ENTRY } from './constants.ts'
import { createFooter, encodeFooter } from './footer.ts'
import { createHeader, encodeHeader } from './header.ts'
import { BufferFile } from './random-access-file.ts'
import { VhdFile } from './vhd-file.ts'
import { parseVhdStream } from './vhd-stream-parser.ts'

const MiB = 2 ** 20

/** A differencing stream in XAPI's layout (xapi.md §5.2): MacX locator at 1536 over a zero sector, BAT at 2048. */
function xapiDeltaStream(): { bytes: Uint8Array; block: Uint8Array } {
  const virtualSize = 5 * MiB
  const footer = {
    ...createFooter({
      virtualSize,
      diskType: DiskType.differencing,
      uniqueId: crypto.randomUUID(),
      timestampMs: 0,
    }),
    creatorApplication: 'caml',
    timestamp: 0,
  }
  const header = {
    ...createHeader({
      tableOffset: 2048,
      maxTableEntries: 3,
      blockSize: 2 * MiB,
      parent: { uniqueId: crypto.randomUUID(), relativePath: 'base.vhd', timestamp: 0 },
    }),
    parentLocators: [{ platformCode: 0x4d616358, dataSpace: 512, dataLength: 24, dataOffset: 1536 }],
  }
  const bat = new Uint32Array(3).fill(UNUSED_BAT_ENTRY)
  bat[1] = 2560 / 512
  const block = new Uint8Array(2 * MiB).fill(0x5a)
  const parts = [
    encodeFooter(footer),
    encodeHeader(header),
    new Uint8Array(512),
    encodeBat(bat),
    new Uint8Array(512).fill(0xff),
    block,
    encodeFooter(footer),
  ]
  return { bytes: Buffer.concat(parts), block }
}

describe('VhdFile', () => {
  it('opens the empty dynamic VHD qemu-img created (fixture) with its CHS-rounded size', async () => {
    const bytes = await readFile(new URL('../../../test/fixtures/vhd/qemu-empty-100M.vhd', import.meta.url))
    const disk = await VhdFile.open(new BufferFile(new Uint8Array(bytes), 'qemu-empty-100M.vhd'))
    assert.equal(disk.virtualSize, 104865792)
    assert.deepEqual(disk.footer.geometry, { cylinders: 1004, heads: 12, sectorsPerTrack: 17 })
    assert.equal(disk.footer.creatorApplication, 'qemu')
    assert.equal(disk.header?.tableOffset, 1536)
    assert.deepEqual(disk.blockIndexes(), [])
    assert.deepEqual(await disk.read(104865792 - 512, 512), new Uint8Array(512))
  })

  it('reads XAPI export_raw_vdi delta streams both as a file and as a forward-only stream', async () => {
    const { bytes, block } = xapiDeltaStream()
    const disk = await VhdFile.open(new BufferFile(bytes))
    assert.equal(disk.header?.parentUnicodeName, 'base.vhd')
    assert.deepEqual(disk.blockIndexes(), [1])
    assert.deepEqual(await disk.read(2 * MiB - 2, 4), new Uint8Array([0, 0, 0x5a, 0x5a]))
    const parsed = await parseVhdStream([bytes])
    const blocks = []
    for await (const b of parsed.blocks()) blocks.push(b)
    assert.deepEqual(
      blocks.map((b) => b.index),
      [1],
    )
    assert.ok(
      Buffer.from(blocks[0]?.data ?? []).equals(block),
      'Buffer.from(blocks[0]?.data ?? []).equals(block)',
    )
  })
})
