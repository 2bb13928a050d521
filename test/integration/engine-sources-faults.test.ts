// The engine's sources when the export breaks or its consumers do (issue 10 scopes 4–5): a cut
// body gives a clean error naming the VDI and the task ends; a fan-out of one export to several
// targets drops a failing one, and closes the export (task ended) when none is left.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { DiskBlock } from '../../src/formats/block-source.ts'
import { FanOutError, fanOutBlockSource, runConsumers } from '../../src/engine/fan-out.ts'
import { openVdiExport } from '../../src/engine/sources/vdi-export.ts'
import { recordTaskEnds } from '../../src/engine/sources/testing/test-xapi.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const ENDED = ['success', 'failure', 'cancelled']

describe('engine sources: broken exports and fan-out', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let small: string
  let big: string

  const diskOf = (vm: string): string => {
    const ref = sim.pool.vms.get(vm) ?? assert.fail(`no VM ${vm}`)
    const vbd = (sim.db.get('VM', ref).VBDs as string[])[0] ?? assert.fail('no VBD')
    return sim.db.get('VBD', vbd).VDI as string
  }

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    small = diskOf('one-disk')
    sim.storage.writeBlocks(small, [{ offsetBytes: 0, data: patternBytes(1, 6 * MiB) }])
    // 24 blocks of 2 MiB on the 20 GiB disk: far more than socket buffers hold, so closing the
    // export really cuts a transfer in progress.
    big = diskOf('big')
    for (let i = 0; i < 24; i++)
      sim.storage.writeBlocks(big, [{ offsetBytes: i * 64 * 2 * MiB, data: patternBytes(10 + i, 2 * MiB) }])
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('a body cut in a block: EXPORT_BROKEN naming the VDI, offset, expected and got; the task ended', async () => {
    const ends = recordTaskEnds(sim)
    // Footer copy, header, BAT (1536..2048), block 0's bitmap (512), then half of its data.
    sim.faults.cutStream('/export_raw_vdi', 2560 + MiB)
    const source = await openVdiExport(client, { vdiRef: small })
    assert.deepEqual(source.blockIndexes, [0, 1, 2])
    const seen: number[] = []
    const error = await (async () => {
      for await (const block of source.blocks()) seen.push(block.index)
    })().then(
      () => assert.fail('the blocks ended normally'),
      (e: unknown) => e as Error & { code?: string; details?: Record<string, unknown> },
    )
    assert.deepEqual(seen, [])
    assert.equal(error.code, 'EXPORT_BROKEN', String(error))
    const uuid = sim.db.get('VDI', small).uuid as string
    assert.match(error.message, new RegExp(`VDI ${uuid} \\(${small}\\)`))
    assert.match(
      error.message,
      /block 0 data at byte 2560: expected 2097152 bytes, got 1048576 bytes before the end of the stream/,
    )
    assert.match(error.message, /XAPI task: .*INTERNAL_ERROR/)
    assert.equal(error.details?.offset, 2560)
    const statuses = [...ends().values()]
    assert.deepEqual(statuses, ['failure'])
  })

  it('a body cut before the BAT ends: openVdiExport itself fails cleanly and the task ended', async () => {
    const ends = recordTaskEnds(sim)
    sim.faults.cutStream('/export_raw_vdi', 1600)
    await assert.rejects(openVdiExport(client, { vdiRef: small }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'EXPORT_BROKEN')
      // The simulator writes footer, header and BAT as one chunk; a cut inside it may lose all of it.
      assert.match(
        error.message,
        /(footer copy|header|BAT bytes 0\.\.512) at byte \d+: expected \d+ bytes, got \d+ bytes before the end/,
      )
      return true
    })
    assert.deepEqual([...ends().values()], ['failure'])
  })

  it('an abort mid-export rejects with the abort reason; the task ended, not completed', async () => {
    const ends = recordTaskEnds(sim)
    const controller = new AbortController()
    const source = await openVdiExport(client, { vdiRef: big, signal: controller.signal })
    const reason = new Error('job aborted')
    let seen = 0
    await assert.rejects(
      (async () => {
        for await (const _ of source.blocks()) if (++seen === 2) controller.abort(reason)
      })(),
      (error) => error === reason,
    )
    await source.close()
    const statuses = [...ends().values()]
    assert.equal(statuses.length, 1)
    assert.ok(['failure', 'cancelled'].includes(statuses[0] ?? ''), statuses.join())
  })

  it('a consumer that stops early (break) ends the export: the task does not stay pending', async () => {
    const ends = recordTaskEnds(sim)
    const source = await openVdiExport(client, { vdiRef: big })
    for await (const block of source.blocks()) if (block.index >= 64) break
    const statuses = [...ends().values()]
    assert.equal(statuses.length, 1)
    assert.ok(['failure', 'cancelled'].includes(statuses[0] ?? ''), statuses.join())
  })

  it('fan-out: a failing target is dropped with its error, the other gets every block', async () => {
    const source = await openVdiExport(client, { vdiRef: big })
    const drops: [number, unknown][] = []
    const fan = fanOutBlockSource(source, 2, {
      onDrop: (index, error) => drops.push([index, error]),
      close: (reason) => source.close(reason),
    })
    const broken = new Error('remote B: disk full')
    const outcomes = await runConsumers(fan, async (view, index) => {
      const blocks: DiskBlock[] = []
      for await (const block of view.blocks()) {
        if (index === 1 && blocks.length === 3) throw broken
        blocks.push(block)
      }
      return blocks
    })
    await source.result()
    assert.deepEqual(drops, [[1, broken]])
    const first = outcomes[0]
    assert.ok(first?.ok === true, 'first?.ok === true')
    assert.deepEqual(
      first.value.map((b) => b.index),
      Array.from({ length: 24 }, (_, i) => i * 64),
    )
    for (const block of first.value) {
      const expected = patternBytes(10 + block.index / 64, 2 * MiB)
      assert.ok(Buffer.from(block.data).equals(expected), `block ${block.index}`)
    }
    assert.deepEqual(outcomes[1], { ok: false, error: broken })
  })

  it('fan-out: every target failing closes the export (task ended, not pending) and returns every cause', async () => {
    const ends = recordTaskEnds(sim)
    const source = await openVdiExport(client, { vdiRef: big })
    const fan = fanOutBlockSource(source, 2, { close: (reason) => source.close(reason) })
    const causes = [new Error('remote A: gone'), new Error('remote B: refused')]
    const failure = await runConsumers(fan, async (view, index) => {
      let count = 0
      for await (const _ of view.blocks()) if (++count === 2) throw causes[index] ?? new Error('?')
    }).then(
      () => assert.fail('runConsumers resolved'),
      (e: unknown) => e,
    )
    assert.ok(failure instanceof FanOutError, 'failure instanceof FanOutError')
    assert.equal(failure.code, 'FAN_OUT_ALL_FAILED')
    assert.deepEqual(failure.errors, causes)
    // The close is asynchronous (the fan-out does not wait for it): close again to wait for it.
    await source.close()
    assert.ok(source.bytesRead < 24 * 2 * MiB, `read ${source.bytesRead} bytes`)
    const statuses = [...ends().values()]
    assert.equal(statuses.length, 1)
    assert.ok(ENDED.includes(statuses[0] ?? ''), statuses.join())
    assert.notEqual(statuses[0], 'success', 'the export was cut, not completed')
  })
})
