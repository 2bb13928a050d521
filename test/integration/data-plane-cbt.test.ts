// CBT through the XAPI client (xapi.md §6.1, §8.5 item 11): changed-block bitmaps follow guest
// writes between snapshots, data_destroy leaves a cbt_metadata VDI still usable as `vdi_from`.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

const KiB64 = 64 * 1024

function failsWith(code: string, params?: readonly string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${code}, got ${String(error)}`)
    assert.equal(error.code, code)
    if (params !== undefined) assert.deepEqual(error.params, params)
    return true
  }
}

/** The 64 KiB block numbers set in a base64 MSB-first bitmap. */
function setBlocks(bitmap: string): number[] {
  const bytes = Buffer.from(bitmap, 'base64')
  const out: number[] = []
  for (let i = 0; i < bytes.length * 8; i++) if (((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) out.push(i)
  return out
}

describe('simulator data plane: CBT', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let vdi: string

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    const vm = sim.pool.vms.get('one-disk') ?? assert.fail('no VM')
    const vbd = (sim.db.get('VM', vm).VBDs as string[])[0] ?? assert.fail('no VBD')
    vdi = sim.db.get('VBD', vbd).VDI as string
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('§8.5.11 list_changed_blocks gives the MSB-first 64 KiB blocks written between two snapshots', async () => {
    await client.call('VDI.enable_cbt', [vdi])
    await client.call('VDI.enable_cbt', [vdi]) // idempotent
    assert.equal(sim.db.get('VDI', vdi).cbt_enabled, true)
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 0, data: patternBytes(1, 100) }])
    const s1 = await client.call('VDI.snapshot', [vdi, {}])
    assert.equal(sim.db.get('VDI', s1).cbt_enabled, true)
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: KiB64 + 10, data: patternBytes(2, 10) },
      { offsetBytes: 2 * KiB64 - 1, data: patternBytes(3, 2) }, // straddles blocks 1 and 2
      { offsetBytes: 3 * MiB, data: patternBytes(4, 3 * KiB64) }, // blocks 48, 49, 50
    ])
    const s2 = await client.call('VDI.snapshot', [vdi, {}])
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 6 * MiB, data: patternBytes(5, 4096) }]) // block 96
    const s3 = await client.call('VDI.snapshot', [vdi, {}])
    const bitmap = await client.call('VDI.list_changed_blocks', [s1, s2])
    assert.equal(typeof bitmap, 'string')
    // One bit per 64 KiB of the 6 MiB + 4 KiB disk: 97 bits in 13 bytes.
    assert.equal(Buffer.from(bitmap as string, 'base64').length, 13)
    assert.deepEqual(setBlocks(bitmap as string), [1, 2, 48, 49, 50])
    assert.deepEqual(
      setBlocks((await client.call('VDI.list_changed_blocks', [s1, s3])) as string),
      [1, 2, 48, 49, 50, 96],
    )
    assert.deepEqual(setBlocks((await client.call('VDI.list_changed_blocks', [s2, vdi])) as string), [96])
    // The official example: bitmap 01100000 = blocks 1 and 2.
    assert.equal(Buffer.from(bitmap as string, 'base64')[0], 0b01100000)

    await assert.rejects(
      client.call('VDI.list_changed_blocks', [s1, s1]),
      failsWith('SR_BACKEND_FAILURE_460'),
    )
    const other = sim.db.select('VDI', (r) => r.name_label === 'three system')[0] ?? ''
    await assert.rejects(
      client.call('VDI.list_changed_blocks', [s1, other]),
      failsWith('SR_BACKEND_FAILURE_460'),
    )

    await assert.rejects(
      client.call('VDI.enable_cbt', [s1]),
      failsWith('OPERATION_NOT_ALLOWED', [`VDI is a snapshot: ${s1}`]),
    )
    await assert.rejects(
      client.call('VDI.data_destroy', [vdi]),
      failsWith('OPERATION_NOT_ALLOWED', [`VDI is not a snapshot: ${vdi}`]),
    )
    const plain = await client.call('VDI.snapshot', [other, {}])
    await assert.rejects(client.call('VDI.data_destroy', [plain]), failsWith('VDI_NO_CBT_METADATA', [plain]))

    const blocksBefore = sim.storage.storedBlocks
    await client.call('VDI.data_destroy', [s1])
    await client.call('VDI.data_destroy', [s1]) // idempotent on cbt_metadata
    assert.equal(sim.db.get('VDI', s1).type, 'cbt_metadata')
    assert.ok(sim.storage.storedBlocks < blocksBefore, 'the data is gone')
    assert.deepEqual(
      setBlocks((await client.call('VDI.list_changed_blocks', [s1, s2])) as string),
      [1, 2, 48, 49, 50],
    )
    await assert.rejects(client.call('VDI.get_nbd_info', [s1]), failsWith('VDI_INCOMPATIBLE_TYPE'))
    await assert.rejects(
      client.getResource('/export_raw_vdi', { vdi: s1, format: 'vhd' }),
      failsWith('VDI_INCOMPATIBLE_TYPE'),
    )
    assert.deepEqual(await client.call('VDI.get_nbd_info', [vdi]), [])

    await client.call('VDI.disable_cbt', [vdi])
    assert.equal(sim.db.get('VDI', vdi).cbt_enabled, false)
    await assert.rejects(
      client.call('VDI.list_changed_blocks', [s3, vdi]),
      failsWith('SR_BACKEND_FAILURE_460'),
    )
  })

  it('enable_cbt needs a user/system VDI on an SR with CBT', async () => {
    const sr = sim.db.get('VDI', vdi).SR as string
    sim.db.update('SR', sr, { sm_config: {} })
    await assert.rejects(client.call('VDI.enable_cbt', [vdi]), failsWith('SR_OPERATION_NOT_SUPPORTED', [sr]))
    sim.db.update('SR', sr, { sm_config: { supports_cbt: 'true' } })
    const suspend = sim.db.create('VDI', { name_label: 'mem', SR: sr, virtual_size: MiB, type: 'suspend' })
    await assert.rejects(
      client.call('VDI.enable_cbt', [suspend]),
      failsWith('VDI_INCOMPATIBLE_TYPE', [suspend, 'suspend']),
    )
  })
})
