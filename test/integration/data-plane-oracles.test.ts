// What the simulator serves, checked by tools that share no code with ours (issue 9): our VHD and
// XVA code writes the simulator's exports and reads them back in the other data-plane tests, so a
// bug shared by both sides would pass there. Here qemu-img, libvhdi (pyvhdi), GNU tar and Python's
// xmlrpc.client read the bytes, and the ground truth is the simulator's storage itself.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { readChainWithPyvhdi, requireOracle, runTool } from '../../src/formats/vhd/testing/oracles.ts'
import type { OracleTool } from '../../src/shared/testing/oracles.ts'
import { GNU_TAR, requireTool } from '../../src/shared/testing/oracles.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL, MiB, collectBytes, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const PYTHON3: OracleTool = {
  name: 'python3',
  probe: ['/usr/bin/python3', '--version'],
  install: 'apt-get install python3',
}

// ova.xml is an XML-RPC value (xapi.md §4): Python's own XML-RPC parser reads it, not ours.
const OVA_VDIS = `
import sys, json, xmlrpc.client
ova = open(sys.argv[1]).read()
(doc,), _ = xmlrpc.client.loads('<methodResponse><params><param>' + ova + '</param></params></methodResponse>')
print(json.dumps({o['id']: o['snapshot']['uuid'] for o in doc['objects'] if o['class'] == 'VDI'}))
`

describe('simulator data plane: exports checked by independent oracles', { timeout: 180_000 }, () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let dir: string

  const disksOf = (vm: string): string[] => {
    const ref = sim.pool.vms.get(vm) ?? assert.fail(`no VM ${vm}`)
    return (sim.db.get('VM', ref).VBDs as string[]).map((vbd) => sim.db.get('VBD', vbd).VDI as string)
  }
  const download = async (path: string, query: Record<string, string>): Promise<Buffer> => {
    const result = await client.getResource(path, query)
    const bytes = await collectBytes(result.body)
    await result.result()
    return bytes
  }
  const save = async (name: string, bytes: Buffer): Promise<string> => {
    const path = join(dir, name)
    await writeFile(path, bytes)
    return path
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'data-plane-oracles-'))
    sim = await startSimulator({ pool: DATA_POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    // Data in some blocks of each disk, partial blocks, and the very last sector of one.
    const [system, data, logs] = disksOf('three-disks')
    sim.storage.writeBlocks(system ?? '', [{ offsetBytes: 100, data: patternBytes(1, 3 * MiB) }])
    sim.storage.writeBlocks(data ?? '', [{ offsetBytes: 4 * MiB + 7, data: patternBytes(2, 9000) }])
    sim.storage.writeBlocks(logs ?? '', [{ offsetBytes: 3 * MiB, data: patternBytes(3, 512) }])
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('qemu-img: each VHD export has the VDI’s virtual size and the content of the raw export', async (t) => {
    if (!requireOracle(t, 'qemu-img')) return
    for (const vdi of disksOf('three-disks')) {
      const size = sim.db.get('VDI', vdi).virtual_size as number
      const raw = await download('/export_raw_vdi', { vdi, format: 'raw' })
      assert.equal(raw.length, size)
      assert.deepEqual(raw, sim.storage.readAll(vdi), 'the raw export is the stored disk')
      const rawPath = await save(`${vdi.slice(-8)}.raw`, raw)
      const vhdPath = await save(
        `${vdi.slice(-8)}.vhd`,
        await download('/export_raw_vdi', { vdi, format: 'vhd' }),
      )
      const info = runTool('qemu-img', ['info', '-f', 'vpc', '--output=json', vhdPath])
      assert.equal(info.status, 0, info.stderr)
      assert.equal((JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'], size)
      // Without -s (which also compares allocation): sizes are checked above and by the absence of
      // qemu-img's "Image size mismatch" warning, after which it would assume zeros past the shorter.
      const compare = runTool('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', vhdPath, rawPath])
      assert.equal(compare.status, 0, compare.stdout + compare.stderr)
      assert.doesNotMatch(compare.stdout + compare.stderr, /mismatch/i)
    }
  })

  it('libvhdi: a delta export (&base=) read over its base is the target', async (t) => {
    if (!requireOracle(t, 'pyvhdi')) return
    const vdi = await client.call('VDI.clone', [disksOf('three-disks')[0] ?? '', {}])
    const s1 = await client.call('VDI.snapshot', [vdi, {}])
    sim.storage.writeBlocks(vdi, [
      { offsetBytes: 2 * MiB - 10, data: patternBytes(4, 20) },
      { offsetBytes: 3 * MiB, data: Buffer.alloc(MiB) },
    ])
    const s2 = await client.call('VDI.snapshot', [vdi, {}])
    const base = await save('base.vhd', await download('/export_raw_vdi', { vdi: s1, format: 'vhd' }))
    const delta = await save(
      'delta.vhd',
      await download('/export_raw_vdi', { vdi: s2, base: s1, format: 'vhd' }),
    )
    const out = join(dir, 'chain.raw')
    const size = sim.db.get('VDI', s2).virtual_size as number
    assert.equal(readChainWithPyvhdi([delta, base], out), size)
    const raw = await download('/export_raw_vdi', { vdi: s2, format: 'raw' })
    assert.deepEqual(await readFile(out), raw)
    assert.deepEqual(raw, sim.storage.readAll(s2))
  })

  it('GNU tar: the /export XVA lists ova.xml first, and its chunks rebuild each disk’s raw export', async (t) => {
    if (!requireTool(t, GNU_TAR) || !requireTool(t, PYTHON3)) return
    const vm = sim.pool.vms.get('three-disks') ?? assert.fail('no VM')
    const xva = await save('vm.xva', await download('/export', { ref: vm }))
    const listing = spawnSync('tar', ['tvf', xva], { encoding: 'utf8' })
    assert.equal(listing.status, 0, listing.stderr)
    const names = listing.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/).at(-1) ?? '')
    assert.equal(names[0], 'ova.xml')
    const out = join(dir, 'xva')
    await mkdir(out)
    const extract = spawnSync('tar', ['xf', xva, '-C', out], { encoding: 'utf8' })
    assert.equal(extract.status, 0, extract.stderr)
    const mapping = spawnSync('/usr/bin/python3', ['-c', OVA_VDIS, join(out, 'ova.xml')], {
      encoding: 'utf8',
    })
    assert.equal(mapping.status, 0, mapping.stderr)
    const uuidById = JSON.parse(mapping.stdout) as Record<string, string>
    assert.equal(Object.keys(uuidById).length, 3)
    for (const [id, uuid] of Object.entries(uuidById)) {
      const raw = await download('/export_raw_vdi', { vdi: uuid, format: 'raw' })
      // Chunk N holds bytes N MiB.. of the disk; all-zero chunks are left out (xapi.md §4).
      const rebuilt = Buffer.alloc(raw.length)
      const chunks = (await readdir(join(out, id))).filter((name) => /^\d{8}$/.test(name))
      assert.ok(chunks.length > 0, `no chunk for ${id}`)
      for (const chunk of chunks) {
        const bytes = await readFile(join(out, id, chunk))
        assert.ok(Number(chunk) * MiB + bytes.length <= raw.length, `${id}/${chunk} past the disk`)
        bytes.copy(rebuilt, Number(chunk) * MiB)
      }
      assert.deepEqual(rebuilt, raw, `disk ${id} (${uuid})`)
    }
  })
})
