// The simulator's VDI storage and raw/VHD handlers through the XAPI client (xapi.md §3.3–3.4,
// §5.2, §8.5 items 6, 9, 10), checked against qemu-img and libvhdi.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { DiskType, parseVhdStream } from '../../src/formats/vhd/index.ts'
import { readChainWithPyvhdi, requireOracle, runTool } from '../../src/formats/vhd/testing/oracles.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { UNKNOWN_LENGTH_BYTES } from '../../src/xapi/types.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

describe('simulator data plane: VDI storage, /export_raw_vdi, /import_raw_vdi', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let dir: string

  const diskOf = (vm: string, n = 0): string => {
    const ref = sim.pool.vms.get(vm) ?? assert.fail(`no VM ${vm}`)
    const vbds = (sim.db.get('VM', ref).VBDs as string[]).map((vbd) => sim.db.get('VBD', vbd))
    return (vbds.find((vbd) => vbd.userdevice === String(n)) ?? assert.fail('no disk')).VDI as string
  }
  const download = async (query: Record<string, string>): Promise<Buffer> => {
    const result = await client.getResource('/export_raw_vdi', query)
    const bytes = await collectBytes(result.body)
    await result.result()
    return bytes
  }
  const upload = (query: Record<string, string>, bytes: Buffer, lengthBytes = bytes.length) =>
    client.putResource('/import_raw_vdi', query, Readable.from([bytes]), { lengthBytes })
  const snapshot = (vdi: string): Promise<string> => client.call('VDI.snapshot', [vdi, {}])

  /** The live disk of `one-disk` with writes before S1 and between S1 and S2 (blocks 1 and 3 change). */
  async function snapshotsWithDelta(): Promise<{ vdi: string; s1: string; s2: string }> {
    const vdi = await client.call('VDI.clone', [diskOf('one-disk'), {}])
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: 0, data: patternBytes(1, MiB) },
      { offsetBytes: 5 * MiB, data: patternBytes(2, 8192) },
    ])
    const s1 = await snapshot(vdi)
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: 2 * MiB + 100, data: patternBytes(3, 1000) },
      { offsetBytes: 6 * MiB, data: patternBytes(4, 4096) },
    ])
    return { vdi, s1, s2: await snapshot(vdi) }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'data-plane-raw-'))
    sim = await startSimulator({ pool: DATA_POOL, dataDir: dir })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('snapshots and clones share blocks; writes copy them; destroy frees them; files are sparse', async () => {
    const vdi = await client.call('VDI.clone', [diskOf('one-disk'), {}])
    const before = sim.storage.storedBlocks
    sim.storage.writeBlocks(vdi, [{ offsetBytes: MiB, data: patternBytes(9, 2 * MiB) }])
    assert.equal(sim.storage.storedBlocks, before + 2)
    const snap = await snapshot(vdi)
    const clone = await client.call('VDI.clone', [snap, {}])
    assert.equal(sim.storage.storedBlocks, before + 2, 'snapshot and clone share the blocks')
    sim.storage.writeBlocks(vdi, [{ offsetBytes: MiB, data: patternBytes(10, 10) }])
    assert.equal(sim.storage.storedBlocks, before + 3, 'a write copies only the block it touches')
    assert.deepEqual(sim.storage.readAll(clone), sim.storage.readAll(snap))
    assert.notDeepEqual(sim.storage.readAll(vdi), sim.storage.readAll(snap))
    assert.equal(sim.db.get('VDI', vdi).physical_utilisation, 2 * 2 * MiB)
    await client.call('VDI.destroy', [clone])
    await client.call('VDI.destroy', [snap])
    assert.equal(sim.storage.storedBlocks, before + 2, 'the snapshot-only block is freed')
    await client.call('VDI.destroy', [vdi])
    assert.equal(sim.storage.storedBlocks, before)
    // The 20 GiB demo disk costs nothing until written.
    const big = diskOf('big')
    sim.storage.writeBlocks(big, [{ offsetBytes: 19 * 1024 * MiB, data: patternBytes(5, MiB) }])
    const blocks = runTool('du', ['-k', join(dir, 'blocks.bin')])
    assert.ok(Number(blocks.stdout.split('\t')[0]) < 64 * 1024, `blocks.bin uses ${blocks.stdout}`)
  })

  it('VDI.copy (new or into an existing VDI) copies the contents; VDI.resize grows the disk with zeros', async () => {
    const vdi = await client.call('VDI.clone', [diskOf('one-disk'), {}])
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 3 * MiB, data: patternBytes(12, MiB) }])
    const sr = sim.db.get('VDI', vdi).SR as string
    const copy = (await client.call('VDI.copy', [vdi, sr, 'OpaqueRef:NULL', 'OpaqueRef:NULL'])) as string
    assert.deepEqual(sim.storage.readAll(copy), sim.storage.readAll(vdi))
    const into = await client.call('VDI.clone', [diskOf('three-disks', 1), {}])
    assert.equal(await client.call('VDI.copy', [vdi, sr, 'OpaqueRef:NULL', into]), into)
    assert.deepEqual(
      sim.storage.readAll(into).subarray(0, 5 * MiB),
      sim.storage.readAll(vdi).subarray(0, 5 * MiB),
    )
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 0, data: patternBytes(13, 10) }])
    assert.notDeepEqual(
      sim.storage.readAll(copy),
      sim.storage.readAll(vdi),
      'copies do not follow later writes',
    )
    const before = sim.storage.readAll(vdi)
    await client.call('VDI.resize', [vdi, 10 * MiB])
    const raw = await download({ vdi, format: 'raw' })
    assert.equal(raw.length, 10 * MiB)
    assert.deepEqual(raw.subarray(0, before.length), before)
    assert.ok(
      raw.subarray(before.length).every((byte) => byte === 0),
      'raw.subarray(before.length).every((byte) => byte === 0)',
    )
  })

  it('§8.5.9 a delta lists exactly the changed 2 MiB blocks; full vhd all allocated; raw is virtual_size bytes', async () => {
    const { s1, s2 } = await snapshotsWithDelta()
    const delta = await parseVhdStream([await download({ vdi: s2, base: s1, format: 'vhd' })])
    assert.equal(delta.footer.diskType, DiskType.differencing)
    assert.deepEqual(delta.blockIndexes, [1, 3])
    assert.equal(delta.header.parentUniqueId, sim.db.get('VDI', s1).uuid)
    const full = await parseVhdStream([await download({ vdi: s2, format: 'vhd' })])
    assert.equal(full.footer.diskType, DiskType.dynamic)
    assert.deepEqual(full.blockIndexes, [0, 1, 2, 3])
    const raw = await download({ vdi: sim.db.get('VDI', s2).uuid as string, format: 'raw' })
    assert.equal(raw.length, 6 * MiB + 4096)
    assert.deepEqual(raw, sim.storage.readAll(s2))
  })

  it('§8.5.10 the delta applied on a clone of the base reproduces the target; a dynamic VHD fills a new VDI', async () => {
    const { s1, s2 } = await snapshotsWithDelta()
    const replica = await client.call('VDI.clone', [s1, {}])
    const delta = await download({ vdi: s2, base: s1, format: 'vhd' })
    assert.equal(await upload({ vdi: replica, format: 'vhd' }, delta), replica)
    assert.deepEqual(sim.storage.readAll(replica), sim.storage.readAll(s2))
    const sr = sim.db.get('VDI', s2).SR as string
    const empty = await client.call('VDI.create', [
      {
        name_label: 'restore',
        SR: sr,
        virtual_size: 6 * MiB + 4096,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
      },
    ])
    const full = await download({ vdi: s2, format: 'vhd' })
    // XO's 1 PiB Content-Length: the import ends at the VHD's trailing footer.
    await upload({ vdi: empty, format: 'vhd' }, full, UNKNOWN_LENGTH_BYTES)
    assert.deepEqual(sim.storage.readAll(empty), sim.storage.readAll(s2))
    const rawTarget = await client.call('VDI.clone', [diskOf('three-disks', 1), {}])
    const raw = patternBytes(7, 5 * MiB)
    await upload({ vdi: rawTarget, format: 'raw' }, raw)
    assert.deepEqual(sim.storage.readAll(rawTarget), raw)
  })

  it('§8.5.10 a chunked upload answers 404 and fails its task with INTERNAL_ERROR', async () => {
    const task = await client.call('task.create', ['chunked', ''])
    const session = await client.withSession(async (s) => Promise.resolve(s))
    const url = new URL(
      `/import_raw_vdi?vdi=${diskOf('one-disk')}&format=vhd&session_id=${session}&task_id=${task}`,
      sim.url,
    )
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end('abc')
    })
    assert.equal(status, 404)
    const record = await client.getRecord('task', task)
    assert.equal(record.status, 'failure')
    assert.deepEqual(record.error_info, ['INTERNAL_ERROR', 'Cannot handle encoding: chunked'])
  })

  it('§8.5.6 VDI.destroy during an export fails VDI_IN_USE; task.cancel ends the export cancelled', async () => {
    const vdi = diskOf('one-disk')
    sim.storage.writeBlocks(vdi, [{ offsetBytes: 0, data: patternBytes(11, 4 * MiB) }])
    sim.faults.slowStream('/export_raw_vdi', 256 * 1024)
    const taskRef = await client.call('task.create', ['export', ''])
    const result = await client.getResource('/export_raw_vdi', { vdi, format: 'raw' }, { taskRef })
    for await (const _chunk of result.body) break
    await assert.rejects(client.call('VDI.destroy', [vdi]), (error: unknown) => {
      assert.ok(error instanceof XapiError, 'error instanceof XapiError')
      assert.deepEqual([error.code, ...error.params], ['VDI_IN_USE', vdi, 'destroy'])
      return true
    })
    await client.call('task.cancel', [result.taskRef])
    await assert.rejects(
      result.result(),
      (error: unknown) => error instanceof XapiError && error.code === 'TASK_CANCELLED',
    )
    const task = await client.getRecord('task', result.taskRef)
    assert.equal(task.status, 'cancelled')
    assert.deepEqual(task.error_info, ['TASK_CANCELLED', result.taskRef])
    const vbds = sim.db.get('VDI', vdi).VBDs as string[]
    const dom0Vbds = vbds.filter(
      (vbd) => sim.db.get('VM', sim.db.get('VBD', vbd).VM as string).is_control_domain === true,
    )
    assert.deepEqual(dom0Vbds, [], 'the dom0 VBD is gone')
  })

  it('oracles: qemu-img compare vhd against raw; libvhdi reads the delta over its base as the target', async (t) => {
    const { s1, s2 } = await snapshotsWithDelta()
    if (!requireOracle(t, 'qemu-img') || !requireOracle(t, 'pyvhdi')) return
    const raw = join(dir, 's2.raw')
    const vhd = join(dir, 's2.vhd')
    await writeFile(raw, await download({ vdi: s2, format: 'raw' }))
    await writeFile(vhd, await download({ vdi: s2, format: 'vhd' }))
    const compare = runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'vpc', raw, vhd])
    assert.equal(compare.status, 0, compare.stdout + compare.stderr)
    const base = join(dir, `${sim.db.get('VDI', s1).uuid as string}.vhd`)
    const child = join(dir, 'delta.vhd')
    await writeFile(base, await download({ vdi: s1, format: 'vhd' }))
    await writeFile(child, await download({ vdi: s2, base: s1, format: 'vhd' }))
    const out = join(dir, 'chain.raw')
    assert.equal(readChainWithPyvhdi([child, base], out), 6 * MiB + 4096)
    assert.deepEqual(readFileSync(out), sim.storage.readAll(s2))
  })
})
