// /export and /import of the simulator through the XAPI client (xapi.md §3.1–3.2, §4, §8.5
// items 4, 5, 15, 16), with GNU tar as the XVA oracle.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import xxhashWasm from 'xxhash-wasm'
import { decompressXva, openXva } from '../../src/formats/xva/index.ts'
import { GNU_TAR, requireTool } from '../../src/shared/testing/oracles.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { UNKNOWN_LENGTH_BYTES } from '../../src/xapi/types.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

function failsWith(code: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${code}, got ${String(error)}`)
    assert.equal(error.code, code)
    return true
  }
}

describe('simulator data plane: /export and /import (XVA)', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let dir: string
  const vmRef = (name: string): string => sim.pool.vms.get(name) ?? assert.fail(`no VM ${name}`)
  const vmCount = (): number => sim.db.select('VM', (r) => r.is_control_domain !== true).length

  /** The VM's disks by userdevice: [userdevice, VDI ref]. */
  const disksOf = (vm: string): [string, string][] =>
    (sim.db.get('VM', vm).VBDs as string[])
      .map((vbd) => sim.db.get('VBD', vbd))
      .filter((vbd) => vbd.type === 'Disk')
      .map((vbd) => [vbd.userdevice as string, vbd.VDI as string] as [string, string])
      .sort(([a], [b]) => a.localeCompare(b))

  const exportVm = async (query: Record<string, string>): Promise<Buffer> => {
    const download = await client.getResource('/export', query)
    const bytes = await collectBytes(download.body)
    assert.equal(await download.result(), '')
    return bytes
  }
  const importXva = async (xva: Buffer, query: Record<string, string> = {}, lengthBytes = xva.length) =>
    (await client.putResource('/import', query, Readable.from([xva]), { lengthBytes })) as string[]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'data-plane-xva-'))
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    // Content in every disk: a block at the start, one in the middle, the disk's last bytes.
    for (const name of ['one-disk', 'three-disks']) {
      disksOf(vmRef(name)).forEach(([, vdi], n) => {
        const size = sim.db.get('VDI', vdi).virtual_size as number
        sim.storage.writeBlocks(vdi, [
          { offsetBytes: 1000, data: patternBytes(n, 3000) },
          { offsetBytes: 2 * MiB, data: patternBytes(n + 10, MiB) },
          { offsetBytes: size - 512, data: patternBytes(n + 20, 512) },
        ])
      })
    }
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('§8.5.4 exporting a running VM fails VM_BAD_POWER_STATE before any byte; its snapshot exports', async () => {
    const running = vmRef('running')
    const task = await client.call('task.create', ['export', ''])
    await assert.rejects(
      client.getResource('/export', { ref: running }, { taskRef: task }),
      failsWith('VM_BAD_POWER_STATE'),
    )
    const record = await client.getRecord('task', task)
    assert.equal(record.status, 'failure')
    assert.deepEqual(record.error_info, ['VM_BAD_POWER_STATE', running, 'halted, suspended', 'running'])
    const snapshot = await client.call('VM.snapshot', [running, 'backup'])
    const xva = await exportVm({ ref: snapshot })
    const reader = await openXva([xva])
    assert.equal(reader.ova.objects.filter((o) => o.class === 'VM').length, 1)
    await assert.rejects(client.call('VM.start', [snapshot, false, false]), failsWith('VM_IS_SNAPSHOT'))
  })

  for (const [name, compression] of [
    ['diskless', 'false'],
    ['one-disk', 'false'],
    ['three-disks', 'false'],
    ['three-disks', 'true'],
    ['one-disk', 'zstd'],
  ] as const) {
    it(`§8.5.5 round trip of ${name} (use_compression=${compression}) reproduces every disk byte`, async () => {
      const source = vmRef(name)
      const xva = await exportVm({
        uuid: sim.db.get('VM', source).uuid as string,
        use_compression: compression,
      })
      assert.equal(
        (await decompressXva([xva], 'xva')).compression,
        { false: 'none', true: 'gzip', zstd: 'zstd' }[compression],
      )
      const [imported] = await importXva(xva)
      assert.ok(imported !== undefined, 'imported !== undefined')
      const before = sim.db.get('VM', source)
      const after = sim.db.get('VM', imported)
      assert.equal(after.name_label, before.name_label)
      assert.notEqual(after.uuid, before.uuid)
      assert.equal(after.is_a_snapshot, false)
      assert.equal(after.power_state, 'Halted')
      assert.deepEqual(after.current_operations, {})
      const otherConfig = after.other_config as Record<string, string>
      assert.notEqual(otherConfig.mac_seed, (before.other_config as Record<string, string>).mac_seed)
      assert.ok(
        otherConfig.import_task?.startsWith('OpaqueRef:'),
        "otherConfig.import_task?.startsWith('OpaqueRef:')",
      )
      const macs = (vm: typeof before): string[] =>
        (vm.VIFs as string[]).map((vif) => sim.db.get('VIF', vif).MAC as string)
      assert.equal(macs(after).length, macs(before).length)
      for (const mac of macs(after)) assert.ok(!macs(before).includes(mac), 'new MACs')
      const sourceDisks = disksOf(source)
      const importedDisks = disksOf(imported)
      assert.deepEqual(
        importedDisks.map(([device]) => device),
        sourceDisks.map(([device]) => device),
      )
      sourceDisks.forEach(([, vdi], n) => {
        const copy = importedDisks[n]?.[1] ?? assert.fail('disk missing')
        assert.deepEqual(sim.storage.readAll(copy), sim.storage.readAll(vdi))
      })
    })
  }

  it('§8.5.5 restore=true keeps the uuid and MACs; an exported template snapshot imports as a template', async () => {
    const snapshot = await client.call('VM.snapshot', [vmRef('one-disk'), 'template-snap'])
    const xva = await exportVm({ ref: snapshot })
    const [copy] = await importXva(xva)
    assert.equal(sim.db.get('VM', copy ?? '').is_a_template, true)
    const macs = (vm: string): string[] =>
      (sim.db.get('VM', vm).VIFs as string[]).map((v) => sim.db.get('VIF', v).MAC as string)
    const { uuid } = sim.db.get('VM', snapshot)
    const snapshotMacs = macs(snapshot)
    const [restored] = await importXva(xva, { restore: 'true' })
    assert.equal(sim.db.get('VM', restored ?? '').uuid, uuid)
    assert.deepEqual(macs(restored ?? ''), snapshotMacs)
    assert.equal(sim.db.find('VM', snapshot), undefined, 'the VM with that uuid is replaced')
  })

  it('§3.2 while the disks stream, the new VM exists with current_operations {task: "import"}', async () => {
    const xva = await exportVm({ ref: vmRef('three-disks') })
    const task = await client.call('task.create', ['import', ''])
    let seen: unknown
    async function* body(): AsyncGenerator<Uint8Array> {
      yield xva.subarray(0, 64 * 1024)
      // Hold the rest until the VM shows up, as XO's onVmCreation waits for it.
      for (;;) {
        const [vm] = sim.db.select(
          'VM',
          (r) => (r.current_operations as Record<string, string>)[task] === 'import',
        )
        if (vm !== undefined) {
          seen = sim.db.get('VM', vm).other_config
          break
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      yield xva.subarray(64 * 1024)
    }
    const [vm] = (await client.putResource('/import', {}, Readable.from(body()), {
      lengthBytes: xva.length,
      taskRef: task,
    })) as string[]
    assert.equal((seen as Record<string, string>).import_task, task)
    assert.deepEqual(sim.db.get('VM', vm ?? '').current_operations, {})
    assert.equal(
      (sim.db.get('task', task).other_config as Record<string, string>).object_creation,
      'complete',
    )
  })

  it('§8.5.15 a 1 PiB Content-Length import ends with the tar; an empty-body probe creates nothing', async () => {
    const xva = await exportVm({ ref: vmRef('one-disk') })
    // As XO does: 1 PiB Content-Length, then the connection is closed once the data is written.
    const task = await client.call('task.create', ['import', ''])
    const session = await client.withSession(async (s) => Promise.resolve(s))
    const socket = connect(Number(new URL(sim.url).port), '127.0.0.1')
    socket.write(
      `PUT /import?session_id=${session}&task_id=${task} HTTP/1.1\r\nHost: sim\r\nContent-Length: ${UNKNOWN_LENGTH_BYTES}\r\n\r\n`,
    )
    socket.end(xva)
    const answer = await collectBytes(socket)
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/)
    const [imported] = (await client.waitTask(task)) as string[]
    assert.ok(
      sim.db.find('VM', imported ?? '') !== undefined,
      "sim.db.find('VM', imported ?? '') !== undefined",
    )
    const count = vmCount()
    const probe = await client.call('task.create', ['probe', ''])
    await assert.rejects(
      client.putResource('/import', {}, Readable.from([]), { lengthBytes: 0, taskRef: probe }),
      failsWith('IMPORT_ERROR_PREMATURE_EOF'),
    )
    assert.equal(vmCount(), count)
    assert.equal((await client.getRecord('task', probe)).status, 'failure')
  })

  it('the client imports a stream of unknown length (1 PiB Content-Length, closes after the data)', async () => {
    const xva = await exportVm({ ref: vmRef('one-disk') })
    const pieces = Array.from({ length: Math.ceil(xva.length / 65_536) }, (_, i) =>
      xva.subarray(i * 65_536, (i + 1) * 65_536),
    )
    const [imported] = (await client.putResource('/import', {}, Readable.from(pieces), {
      lengthBytes: UNKNOWN_LENGTH_BYTES,
    })) as string[]
    const [, vdi] = disksOf(imported ?? '')[0] ?? []
    const [, source] = disksOf(vmRef('one-disk'))[0] ?? []
    assert.ok(vdi !== undefined && source !== undefined, 'vdi !== undefined && source !== undefined')
    assert.deepEqual(sim.storage.readAll(vdi), sim.storage.readAll(source))
  })

  it('§8.5.16 chunk 0 and the last chunk always, zero chunks never, XXH64 uppercase; GNU tar lists it', async (t) => {
    const vdi = await client.call('VDI.clone', [disksOf(vmRef('one-disk'))[0]?.[1] ?? '', {}])
    const vm = await client.call('VM.clone', [vmRef('diskless'), 'sparse'])
    await client.call('VBD.create', [
      {
        VM: vm,
        VDI: vdi,
        userdevice: '0',
        bootable: true,
        mode: 'RW',
        type: 'Disk',
        empty: false,
        other_config: {},
      },
    ])
    const size = sim.db.get('VDI', vdi).virtual_size as number
    // Zero the first and last MiB: they must still be present; chunk 3 has data, 1, 4, 5 are zero.
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: 0, data: Buffer.alloc(MiB) },
      { offsetBytes: 2 * MiB, data: Buffer.alloc(2 * MiB) },
      { offsetBytes: 3 * MiB + 5, data: Buffer.from('data') },
      { offsetBytes: 6 * MiB, data: Buffer.alloc(size - 6 * MiB) },
    ])
    const xva = await exportVm({ ref: vm })
    if (!requireTool(t, GNU_TAR)) return
    const path = join(dir, 'sparse.xva')
    await writeFile(path, xva)
    const listing = spawnSync('tar', ['tvf', path], { encoding: 'utf8' })
    assert.equal(listing.status, 0, listing.stderr)
    const names = listing.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/).at(-1))
    assert.equal(names[0], 'ova.xml')
    const id = names[1]?.split('/')[0] ?? ''
    assert.deepEqual(
      names.slice(1),
      ['00000000', '00000003', '00000006'].flatMap((c) => [`${id}/${c}`, `${id}/${c}.xxhash`]),
    )
    // Each .xxhash entry verifies with another XXH64 implementation (xxhash-wasm).
    const hasher = await xxhashWasm()
    for (const chunk of ['00000000', '00000003', '00000006']) {
      const data = spawnSync('tar', ['xf', path, '--to-stdout', `${id}/${chunk}`]).stdout
      const stored = spawnSync('tar', ['xf', path, '--to-stdout', `${id}/${chunk}.xxhash`], {
        encoding: 'utf8',
      }).stdout
      assert.match(stored, /^[0-9A-F]{16}$/)
      assert.equal(stored, hasher.h64Raw(data).toString(16).toUpperCase().padStart(16, '0'), chunk)
    }
  })

  it('§8.5.16 a bad checksum fails IMPORT_ERROR and leaves no VM unless force; a wrong first entry fails', async () => {
    const xva = await exportVm({ ref: vmRef('one-disk') })
    const count = vmCount()
    // The first chunk's data starts after ova.xml's header, body (padded) and the chunk's header.
    const ovaSize = parseInt(xva.subarray(124, 136).toString('ascii').trim(), 8)
    const corrupt = Buffer.from(xva)
    const chunkData = 512 + Math.ceil(ovaSize / 512) * 512 + 512
    corrupt[chunkData + 1000] = (corrupt[chunkData + 1000] ?? 0) ^ 0xff
    await assert.rejects(importXva(corrupt), failsWith('IMPORT_ERROR'))
    assert.equal(vmCount(), count, 'no VM left behind')
    const [forced] = await importXva(corrupt, { force: 'true' })
    assert.ok(sim.db.find('VM', forced ?? '') !== undefined, "sim.db.find('VM', forced ?? '') !== undefined")
    // The simulator's own corruption fault does the same on the wire.
    sim.faults.corruptStream('/import', chunkData + 1000)
    await assert.rejects(importXva(xva), failsWith('IMPORT_ERROR'))
    const renamed = Buffer.from(xva)
    renamed.write('ovb', 0, 'ascii')
    await assert.rejects(importXva(renamed), (error: unknown) => error instanceof XapiError)
    assert.equal(vmCount(), count + 1)
  })
})
