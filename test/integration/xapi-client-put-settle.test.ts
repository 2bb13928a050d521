// putResource when the upload breaks off (xapi.md §3.2): XAPI reads an XVA up to its tar end,
// answers and closes, so bytes the client still sends after that meet a closed socket although the
// import succeeded — the outcome is the task's (the imported VM), not "write EPIPE" or "HTTP 200".
// And a body that fails on its own is reported as itself, not as what XAPI made of the cut.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { UNKNOWN_LENGTH_BYTES } from '../../src/xapi/types.ts'

const MiB = 1024 * 1024

describe('putResource settles a broken-off upload by its task', () => {
  let sim: RunningSimulator
  let xapi: HttpXapiClient
  let xva: Buffer
  before(async () => {
    sim = await startSimulator({
      pool: {
        name: 'p',
        hosts: [{ name: 'h', address: '127.0.0.1' }],
        srs: [{ name: 'S', type: 'ext' }],
        networks: [],
        vms: [
          {
            name: 'small',
            powerState: 'Halted',
            disks: [{ name: 'd', sizeBytes: 4 * MiB, content: { seed: 3, allocatedFraction: 1 } }],
            networks: [],
          },
        ],
      },
    })
    xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await xapi.connect()
    const download = await xapi.getResource('/export', { ref: sim.pool.vms.get('small') ?? '' })
    const chunks: Buffer[] = []
    for await (const chunk of download.body) chunks.push(chunk as Buffer)
    await download.result()
    xva = Buffer.concat(chunks)
  })
  after(async () => {
    await xapi.disconnect()
    await sim.close()
  })

  it('data after the XVA end meets a closed socket: the import succeeded, its VM is returned', async () => {
    const vmsBefore = [...sim.db.all('VM')].length
    async function* withTrailingBytes(): AsyncIterable<Uint8Array> {
      await Promise.resolve()
      yield xva
      // Far more than any socket buffer: the server has answered and closed long before the end.
      for (let i = 0; i < 64; i++) yield new Uint8Array(MiB)
    }
    const result = await xapi.putResource(
      '/import',
      { sr_id: sim.pool.srs.get('S') ?? '' },
      withTrailingBytes(),
      { lengthBytes: UNKNOWN_LENGTH_BYTES },
    )
    const refs = Array.isArray(result) ? result : [result]
    assert.equal(refs.length, 1, `one VM imported: ${JSON.stringify(result)}`)
    assert.equal(sim.db.get('VM', String(refs[0])).name_label, 'small')
    assert.equal([...sim.db.all('VM')].length, vmsBefore + 1)
  })

  it("a body that fails on its own is reported as itself, and XAPI's import leaves nothing", async () => {
    const vmsBefore = [...sim.db.all('VM')].length
    const cut = new Error('the source broke (test)')
    async function* failing(): AsyncIterable<Uint8Array> {
      await Promise.resolve()
      yield xva.subarray(0, Math.floor(xva.length / 2))
      throw cut
    }
    await assert.rejects(
      xapi.putResource('/import', { sr_id: sim.pool.srs.get('S') ?? '' }, failing(), {
        lengthBytes: UNKNOWN_LENGTH_BYTES,
      }),
      (error) => error === cut,
    )
    const deadline = Date.now() + 30_000
    while ([...sim.db.all('VM')].length !== vmsBefore) {
      assert.ok(Date.now() < deadline, 'the failed import is cleaned up within 30 s')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
})
