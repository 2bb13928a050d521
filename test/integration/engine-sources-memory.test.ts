// Memory of the disk source (issue 10 scope 4): a 16 GiB sparse VDI with 320 MiB of data is
// exported through openVdiExport and a two-way fan-out in a child process whose peak RSS is
// measured: it stays bounded by blocks in flight, not by the disk or the data size.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { runBounded } from '../support/bounded-child.ts'

const GiB = 1024 * MiB
const BLOCKS = 160
const STRIDE = 50

describe('engine sources: memory', () => {
  let dir: string
  let sim: RunningSimulator
  let client: HttpXapiClient
  let vdi: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'engine-sources-memory-'))
    // Blocks on disk, not in this process: the child's RSS is what is measured anyway.
    sim = await startSimulator({ pool: DATA_POOL, dataDir: dir })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    const [sr] = sim.db.select('SR', (r) => r.name_label === 'Local')
    vdi = await client.call('VDI.create', [
      {
        name_label: 'sparse 16 GiB',
        SR: sr ?? assert.fail('no SR'),
        virtual_size: 16 * GiB,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
      },
    ])
    const block = patternBytes(7, 2 * MiB)
    for (let i = 0; i < BLOCKS; i++) {
      block.writeUInt32BE(i, 0)
      sim.storage.writeBlocks(vdi, [{ offsetBytes: i * STRIDE * 2 * MiB, data: block }])
    }
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(
    'exporting 320 MiB of a 16 GiB sparse disk to two discarding consumers stays under 256 MiB RSS',
    { timeout: 180_000 },
    async () => {
      const run = await runBounded(
        'src/engine/sources/testing/vdi-export-sink.ts',
        [sim.url, sim.username, sim.password, vdi],
        { timeoutMs: 150_000 },
      )
      assert.equal(run.timedOut, false)
      assert.equal(run.status, 0, run.stderr)
      const report = JSON.parse(run.stdout) as {
        bodyBytes: number
        consumers: { blocks: number; bytes: number; digest: number }[]
      }
      assert.equal(report.consumers.length, 2)
      for (const consumer of report.consumers) {
        assert.equal(consumer.blocks, BLOCKS)
        assert.equal(consumer.bytes, BLOCKS * 2 * MiB)
      }
      assert.equal(report.consumers[0]?.digest, report.consumers[1]?.digest)
      assert.ok(report.bodyBytes > BLOCKS * 2 * MiB, 'report.bodyBytes > BLOCKS * 2 * MiB')
      const rss = run.maxRssBytes ?? assert.fail('no RSS measured')
      assert.ok(rss < 256 * MiB, `peak RSS ${Math.round(rss / MiB)} MiB`)
      process.stdout.write(`# peak RSS of the exporting child: ${Math.round(rss / MiB)} MiB\n`)
    },
  )
})
