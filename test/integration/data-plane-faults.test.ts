// Data faults, progress and memory of the simulator's data plane (issue 5 scope 5, acceptance "Memory").
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createFixedClock } from '../../src/shared/clock.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import type { RssChildReady } from '../../src/simulator/testing/rss-child.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

function failsWith(code: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${code}, got ${String(error)}`)
    assert.equal(error.code, code)
    return true
  }
}

describe('simulator data plane: faults', () => {
  const clock = createFixedClock()
  let sim: RunningSimulator
  let client: HttpXapiClient
  let vdi: string

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL, clock })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    const vm = sim.pool.vms.get('one-disk') ?? assert.fail('no VM')
    vdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 0, data: patternBytes(1, 6 * MiB) }])
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('cutStream ends the body after N bytes and fails the task', async () => {
    sim.faults.cutStream('/export_raw_vdi', MiB + 3)
    const download = await client.getResource('/export_raw_vdi', { vdi, format: 'raw' })
    const bytes = await collectBytes(download.body).catch(() => Buffer.alloc(0))
    assert.ok(bytes.length <= MiB + 3, 'bytes.length <= MiB + 3')
    await assert.rejects(download.result(), failsWith('INTERNAL_ERROR'))
    // One-shot: the next export is whole.
    const next = await client.getResource('/export_raw_vdi', { vdi, format: 'raw' })
    assert.equal((await collectBytes(next.body)).length, 6 * MiB + 4096)
    await next.result()
  })

  it('corruptStream inverts one byte of the body', async () => {
    sim.faults.corruptStream('/export_raw_vdi', 12345)
    const download = await client.getResource('/export_raw_vdi', { vdi, format: 'raw' })
    const bytes = await collectBytes(download.body)
    await download.result()
    const expected = sim.storage.readAll(vdi)
    assert.equal(bytes[12345], (expected[12345] ?? 0) ^ 0xff)
    bytes[12345] = expected[12345] ?? 0
    assert.deepEqual(bytes, expected)
  })

  it('slowStream paces the body at the rate (on the injected clock)', async () => {
    const slept = clock.sleptMs
    sim.faults.slowStream('/export_raw_vdi', MiB)
    const download = await client.getResource('/export_raw_vdi', { vdi, format: 'raw' })
    assert.equal((await collectBytes(download.body)).length, 6 * MiB + 4096)
    await download.result()
    const expectedMs = ((6 * MiB + 4096) / MiB) * 1000
    assert.ok(Math.abs(clock.sleptMs - slept - expectedMs) < 1, `slept ${clock.sleptMs - slept} ms`)
  })

  it('failTaskAtEnd lets the whole body through, then fails the task', async () => {
    const target = await client.call('VDI.clone', [vdi, {}])
    sim.faults.failTaskAtEnd('/import_raw_vdi', { code: 'VDI_IO_ERROR', params: ['Device I/O errors'] })
    const data = patternBytes(2, 6 * MiB + 4096)
    await assert.rejects(
      client.putResource('/import_raw_vdi', { vdi: target, format: 'raw' }, Readable.from([data]), {
        lengthBytes: data.length,
      }),
      failsWith('VDI_IO_ERROR'),
    )
    assert.deepEqual(sim.storage.readAll(target), data)
  })
})

describe('simulator data plane: progress', () => {
  // The real clock: the body must really be slow for the task to be seen mid-stream.
  let sim: RunningSimulator
  let client: HttpXapiClient
  let vdi: string

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    const vm = sim.pool.vms.get('one-disk') ?? assert.fail('no VM')
    vdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('the task reports progress while the body streams', { timeout: 60_000 }, async () => {
    sim.faults.slowStream('/export_raw_vdi', 4 * MiB)
    const taskRef = await client.call('task.create', ['export', ''])
    const download = await client.getResource('/export_raw_vdi', { vdi, format: 'raw' }, { taskRef })
    const body = download.body
    body.on('error', () => undefined)
    // Stop reading but keep the connection: closing it would race the cancel (the server would
    // fail the task with INTERNAL_ERROR on the close first).
    const reader = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    let received = 0
    while (received < 3 * MiB) {
      const next = await reader.next()
      if (next.done === true) assert.fail(`the body ended after ${received} bytes`)
      received += next.value.length
    }
    const task = await client.getRecord('task', taskRef)
    assert.equal(task.status, 'pending')
    assert.ok(task.progress > 0 && task.progress < 1, `progress ${task.progress}`)
    await client.call('task.cancel', [taskRef])
    await assert.rejects(download.result(), failsWith('TASK_CANCELLED'))
    body.destroy()
  })
})

describe('simulator data plane: cancellation', () => {
  // Whatever the state of the response stream, task.cancel must end the task (issue: `npm test` hung
  // with the task `cancelling` forever). Every test is bounded so that a regression fails, not hangs.
  let sim: RunningSimulator
  let client: HttpXapiClient
  let bigVdi: string

  before(async () => {
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    const vm = sim.pool.vms.get('big') ?? assert.fail('no VM')
    bigVdi = sim.db.get('VBD', (sim.db.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it(
    'a cancel while the export waits on backpressure (the client stopped reading) ends the task',
    { timeout: 60_000 },
    async () => {
      const taskRef = await client.call('task.create', ['export', ''])
      // 20 GiB of raw zeros: far more than the socket buffers hold, so the server blocks on 'drain'.
      const download = await client.getResource(
        '/export_raw_vdi',
        { vdi: bigVdi, format: 'raw' },
        { taskRef },
      )
      const body = download.body
      body.on('error', () => undefined)
      const reader = body[Symbol.asyncIterator]()
      await reader.next()
      // The client keeps the connection open and reads nothing more.
      await client.call('task.cancel', [taskRef])
      await assert.rejects(download.result(), failsWith('TASK_CANCELLED'))
      body.destroy()
    },
  )

  it(
    'a cancel after the client closed the connection mid-body ends the task',
    { timeout: 60_000 },
    async () => {
      sim.faults.slowStream('/export_raw_vdi', 64 * MiB)
      const taskRef = await client.call('task.create', ['export', ''])
      const download = await client.getResource(
        '/export_raw_vdi',
        { vdi: bigVdi, format: 'raw' },
        { taskRef },
      )
      const body = download.body
      body.on('error', () => undefined)
      await body[Symbol.asyncIterator]().next()
      body.destroy()
      await client.call('task.cancel', [taskRef]).catch(() => undefined)
      const task = await download.result().then(
        () => assert.fail('the export succeeded'),
        (error: unknown) => error,
      )
      assert.ok(task instanceof XapiError, String(task))
      assert.ok(['TASK_CANCELLED', 'INTERNAL_ERROR'].includes(task.code), task.code)
    },
  )

  it('a task cancelled before its export starts fails the export at once', { timeout: 60_000 }, async () => {
    const taskRef = await client.call('task.create', ['export', ''])
    await client.call('task.cancel', [taskRef])
    const started = client.getResource('/export_raw_vdi', { vdi: bigVdi, format: 'raw' }, { taskRef })
    await assert.rejects(started, failsWith('TASK_CANCELLED'))
    const task = await client.getRecord('task', taskRef)
    assert.equal(task.status, 'cancelled')
  })
})

describe('simulator data plane: memory', () => {
  it(
    'exporting a 20 GiB sparse disk (XVA, VHD) keeps the simulator under 200 MiB RSS',
    { timeout: 120_000 },
    async () => {
      const child = fork(
        fileURLToPath(new URL('../../src/simulator/testing/rss-child.ts', import.meta.url)),
        [],
        {
          execArgv: ['--import', 'tsx'],
        },
      )
      try {
        const [ready] = (await once(child, 'message')) as [RssChildReady]
        const client = new HttpXapiClient({ url: ready.url, user: ready.username, password: ready.password })
        await client.connect()
        for (const [path, query] of [
          ['/export', { ref: ready.vm }],
          ['/export', { ref: ready.vm, use_compression: 'zstd' }],
          ['/export_raw_vdi', { vdi: ready.vdi, format: 'vhd' }],
        ] as const) {
          const download = await client.getResource(path, query)
          let bytes = 0
          for await (const chunk of download.body as AsyncIterable<Buffer>) bytes += chunk.length
          await download.result()
          assert.ok(bytes > 64 * MiB * (query.use_compression === 'zstd' ? 0 : 1), `${path}: ${bytes} bytes`)
        }
        await client.disconnect()
        child.send('report')
        const [report] = (await once(child, 'message')) as [{ peakRssBytes: number }]
        assert.ok(report.peakRssBytes < 200 * MiB, `peak RSS ${report.peakRssBytes / MiB} MiB`)
        if (process.env.DATA_PLANE_RSS === 'print')
          console.log(`peak RSS ${(report.peakRssBytes / MiB).toFixed(1)} MiB`)
      } finally {
        child.kill()
      }
    },
  )
})
