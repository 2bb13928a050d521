// Hostile uploads to the simulator's /import_raw_vdi (issue 2): a VHD stream declaring a 2 GiB BAT
// (2^29 entries), and failed imports that create their VDI (`sr_id=`) must leave none behind.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { DiskType, FOOTER_SIZE, HEADER_SIZE } from '../../src/formats/vhd/constants.ts'
import { createFooter, encodeFooter } from '../../src/formats/vhd/footer.ts'
import { createHeader, encodeHeader } from '../../src/formats/vhd/header.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { ChildSimulator } from '../../src/simulator/testing/child-simulator.ts'
import { startChildSimulator } from '../../src/simulator/testing/child-simulator.ts'
import { DATA_POOL, MiB } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { UNKNOWN_LENGTH_BYTES } from '../../src/xapi/types.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

/** Footer copy and header of a dynamic VHD of `virtualSize` bytes with a hand-set BAT declaration. */
function vhdHead(virtualSize: number, blockSize: number, maxTableEntries: number): Buffer {
  const footer = createFooter({
    virtualSize,
    diskType: DiskType.dynamic,
    uniqueId: '11111111-2222-3333-4444-555555555555',
    timestampMs: Date.UTC(2026, 0, 1),
  })
  const header = createHeader({ tableOffset: FOOTER_SIZE + HEADER_SIZE, maxTableEntries, blockSize })
  return Buffer.concat([encodeFooter(footer), encodeHeader(header)])
}

/** The head, then up to `batBytes` of unused BAT entries (0xFF), produced lazily. */
async function* hostileStream(head: Buffer, batBytes: number): AsyncGenerator<Buffer> {
  yield head
  const piece = Buffer.alloc(MiB, 0xff)
  for (let sent = 0; sent < batBytes; sent += MiB) yield await Promise.resolve(piece)
}

function failsWith(code: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${code}, got ${String(error)}`)
    assert.equal(error.code, code)
    return true
  }
}

describe('hostile VHD streams to /import_raw_vdi', () => {
  let sim: ChildSimulator
  let client: HttpXapiClient

  before(async () => {
    sim = await startChildSimulator(['--no-data'], 1024)
    client = new HttpXapiClient({
      url: sim.ready.url,
      user: sim.ready.username,
      password: sim.ready.password,
    })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it(
    'a BAT declared with 2^29 entries (2 GiB) fails cleanly with bounded memory',
    { timeout: 120_000 },
    async () => {
      const baseline = await sim.peakRssBytes()
      // 4 KiB blocks: 2^29 entries are "only" 2 TiB of disk, so a 2 TiB bound alone lets them through.
      const head = vhdHead(6 * MiB, 4096, 2 ** 29)
      await assert.rejects(
        client.putResource(
          '/import_raw_vdi',
          { vdi: sim.ready.vdi, format: 'vhd' },
          Readable.from(hostileStream(head, 256 * MiB)),
          { lengthBytes: UNKNOWN_LENGTH_BYTES },
        ),
        failsWith('VDI_IO_ERROR'),
      )
      const grown = (await sim.peakRssBytes()) - baseline
      assert.ok(grown < 64 * MiB, `the simulator grew by ${(grown / MiB).toFixed(1)} MiB`)
      assert.ok(sim.alive(), 'sim.alive()')
    },
  )

  it(
    'a disk larger than the target VDI is refused before its BAT is read',
    { timeout: 120_000 },
    async () => {
      const baseline = await sim.peakRssBytes()
      // 2 TiB of 512 KiB blocks: a 16 MiB BAT for a 20 GiB VDI.
      const head = vhdHead(2 * 1024 ** 4, 512 * 1024, 2 ** 22)
      await assert.rejects(
        client.putResource(
          '/import_raw_vdi',
          { vdi: sim.ready.vdi, format: 'vhd' },
          Readable.from(hostileStream(head, 16 * MiB)),
          { lengthBytes: UNKNOWN_LENGTH_BYTES },
        ),
        failsWith('VDI_IO_ERROR'),
      )
      const grown = (await sim.peakRssBytes()) - baseline
      assert.ok(grown < 64 * MiB, `the simulator grew by ${(grown / MiB).toFixed(1)} MiB`)
    },
  )
})

describe('failed imports that create their VDI (sr_id=) leave none behind', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let sr: string
  const vdiCount = (): number => sim.db.select('VDI', () => true).length

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    sr = sim.db.select('SR', (record) => record.name_label === 'Local')[0] ?? assert.fail('no SR')
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it(
    'a raw body that ends before its Content-Length (XO’s 1 PiB) leaves no VDI',
    { timeout: 60_000 },
    async () => {
      const before = vdiCount()
      await assert.rejects(
        client.putResource(
          '/import_raw_vdi',
          { sr_id: sr, format: 'raw' },
          Readable.from([Buffer.alloc(MiB, 1)]),
          { lengthBytes: UNKNOWN_LENGTH_BYTES },
        ),
        failsWith('VDI_IO_ERROR'),
      )
      assert.equal(vdiCount(), before)
    },
  )

  it('a hostile VHD stream with sr_id= is refused and leaves no VDI', { timeout: 60_000 }, async () => {
    const before = vdiCount()
    await assert.rejects(
      client.putResource(
        '/import_raw_vdi',
        { sr_id: sr, format: 'vhd' },
        Readable.from(hostileStream(vhdHead(6 * MiB, 4096, 2 ** 29), 4 * MiB)),
        { lengthBytes: UNKNOWN_LENGTH_BYTES },
      ),
      (error: unknown) => error instanceof Error,
    )
    assert.equal(vdiCount(), before)
  })
})
