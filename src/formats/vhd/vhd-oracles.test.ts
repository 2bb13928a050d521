// Oracle tests (tooling.md §1): qemu-img for dynamic/fixed VHDs, libvhdi (pyvhdi) for differencing chains.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chainToRaw, rawBlockSource, writeVhdStream } from './conversions.ts'
import { LocalFile } from './random-access-file.ts'
import { buildVhd } from './testing/build-vhd.ts'
import { readChainWithPyvhdi, requireOracle, runTool } from './testing/oracles.ts'
import {
  applyExtents,
  assertSameBytes,
  collect,
  createRandom,
  randomExtents,
  randomSparseDisk,
} from './testing/random-disk.ts'
import { VhdChain } from './vhd-chain.ts'
import { localMergeStore } from './merge-store.ts'
import { writeRandomChain } from './testing/random-chain.ts'
import { mergeVhdChain } from './vhd-merge.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

const MiB = 2 ** 20
let dir = ''
const open = (path: string) => LocalFile.open(path)

async function writeOurVhd(
  rawPath: string,
  vhdPath: string,
  parent?: { path: string; chain: VhdChain },
): Promise<void> {
  const raw = await LocalFile.open(rawPath)
  const out = await LocalFile.open(vhdPath, 'create')
  try {
    const source = await rawBlockSource(raw, parent === undefined ? {} : { parent: parent.chain })
    const options = { uniqueId: crypto.randomUUID(), timestampMs: Date.UTC(2026, 0, 1) }
    const parentRef =
      parent === undefined
        ? {}
        : { parent: { uniqueId: parent.chain.top.uniqueId, relativePath: parent.path } }
    await writeVhdStream(planVhdStream(source, { ...options, ...parentRef }), out)
  } finally {
    await raw.close()
    await out.close()
  }
}

describe('VHD oracles', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vhd-oracles-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('qemu-img reads the VHDs we write byte-exact and with the exact virtual size', async (t) => {
    if (!requireOracle(t, 'qemu-img')) return
    const random = createRandom(3)
    // 10 MiB + 7 sectors: neither a block multiple nor CHS-exact, so a CHS-sized read would differ.
    for (const size of [10 * MiB + 7 * 512, 6 * MiB, 0]) {
      const rawPath = join(dir, `ours-${size}.raw`)
      const vhdPath = join(dir, `ours-${size}.vhd`)
      await writeFile(rawPath, randomSparseDisk(random, size, 8))
      await writeOurVhd(rawPath, vhdPath)
      const info = runTool('qemu-img', ['info', '-f', 'vpc', '--output=json', vhdPath])
      assert.equal(info.status, 0, info.stderr)
      assert.equal((JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'], size)
      const compare = runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'vpc', rawPath, vhdPath])
      assert.equal(compare.status, 0, `${compare.stdout}${compare.stderr}`)
      assert.match(compare.stdout, /Images are identical/)
    }
  })

  it('reads dynamic and fixed VHDs written by qemu-img byte-exact', async (t) => {
    if (!requireOracle(t, 'qemu-img')) return
    const size = 9 * MiB + 3 * 512
    const raw = randomSparseDisk(createRandom(5), size, 10)
    const rawPath = join(dir, 'qemu.raw')
    await writeFile(rawPath, raw)
    for (const subformat of ['dynamic', 'fixed']) {
      const vhdPath = join(dir, `qemu-${subformat}.vhd`)
      const convert = runTool('qemu-img', [
        'convert',
        '-f',
        'raw',
        '-O',
        'vpc',
        '-o',
        `subformat=${subformat}`,
        rawPath,
        vhdPath,
      ])
      assert.equal(convert.status, 0, convert.stderr)
      const chain = await VhdChain.open(vhdPath, open)
      try {
        // qemu rounds the size up to a CHS geometry; the extra bytes read as zeros.
        assert.ok(chain.virtualSize >= size, 'chain.virtualSize >= size')
        const back = await collect(chainToRaw(chain))
        assert.deepEqual(back.subarray(0, size), raw, subformat)
        assert.ok(
          back.subarray(size).every((b) => b === 0),
          'back.subarray(size).every((b) => b === 0)',
        )
      } finally {
        await chain.close()
      }
    }
  })

  it('qemu-img reads a merged disk (moved blocks, grown BAT, appended blocks) byte-exact', async (t) => {
    if (!requireOracle(t, 'qemu-img')) return
    const chainDir = await mkdtemp(join(dir, 'merged-'))
    const chain = await writeRandomChain(createRandom(21), {
      dir: chainDir,
      deltas: 4,
      virtualSize: 40 * 64 * 1024,
      blockSize: 64 * 1024,
      growBytes: 120 * 64 * 1024,
    })
    await mergeVhdChain(localMergeStore, chain.paths)
    const rawPath = join(chainDir, 'expected.raw')
    await writeFile(rawPath, chain.content)
    const target = chain.paths.at(-1) as string
    const info = runTool('qemu-img', ['info', '-f', 'vpc', '--output=json', target])
    assert.equal(
      (JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'],
      chain.content.length,
    )
    const compare = runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'vpc', rawPath, target])
    assert.equal(compare.status, 0, `${compare.stdout}${compare.stderr}`)
  })

  it('libvhdi reads the differencing chains we write byte-exact through set_parent', async (t) => {
    if (!requireOracle(t, 'pyvhdi')) return
    const random = createRandom(11)
    const size = 12 * MiB + 5 * 512
    const content = randomSparseDisk(random, size, 6)
    const paths = [join(dir, 'c0.vhd')]
    let previous = await buildVhd(await LocalFile.open(paths[0] as string, 'create'), {
      virtualSize: size,
      uniqueId: crypto.randomUUID(),
      extents: [{ offset: 0, length: size }],
      content,
    })
    await previous.close()
    // Three deltas with partial sector bitmaps (buildVhd), then one whole-block delta from our stream writer.
    // Extents are 4 KiB aligned: libvhdi 20210425 reads the unset sectors that follow a set run inside
    // the same bitmap byte as zeros instead of the parent's (docs/formats/vhd.md, "Oracles").
    for (let k = 1; k <= 3; k++) {
      const extents = randomExtents(random, size, 8, undefined, 8)
      applyExtents(random, content, extents)
      const path = join(dir, `c${k}.vhd`)
      const parent = { uniqueId: previous.uniqueId, relativePath: `c${k - 1}.vhd` }
      previous = await buildVhd(await LocalFile.open(path, 'create'), {
        virtualSize: size,
        uniqueId: crypto.randomUUID(),
        parent,
        extents,
        content,
      })
      await previous.close()
      paths.unshift(path)
    }
    applyExtents(random, content, randomExtents(random, size, 5))
    const rawPath = join(dir, 'c4.raw')
    await writeFile(rawPath, content)
    const parentChain = await VhdChain.open(paths[0] as string, open)
    await writeOurVhd(rawPath, join(dir, 'c4.vhd'), { path: 'c3.vhd', chain: parentChain })
    await parentChain.close()
    paths.unshift(join(dir, 'c4.vhd'))
    const outPath = join(dir, 'pyvhdi.raw')
    assert.equal(readChainWithPyvhdi(paths, outPath), size)
    assertSameBytes(new Uint8Array(await readFile(outPath)), content, 'pyvhdi')
    const ours = await VhdChain.open(paths[0] as string, open)
    assertSameBytes(await collect(chainToRaw(ours)), content, 'our chain read')
    await ours.close()
  })
})
