import assert from 'node:assert/strict'
import { existsSync, readlinkSync, realpathSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  createRandom,
  randomExtents,
  applyExtents,
  randomSparseDisk,
} from '../formats/vhd/testing/random-disk.ts'
import type { MergeStore } from '../formats/vhd/index.ts'
import { localMergeStore, mergeVhdChain } from '../formats/vhd/index.ts'
import { cli } from './testing/run-cli.ts'
import { LocalFile } from '../formats/vhd/index.ts'
import { openSparseScan } from './vhd-files.ts'

const MiB = 2 ** 20
let dir = ''

describe('xapi-backup vhd', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-vhd-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('converts raw -> VHD -> raw, builds a delta with --parent, merges it and checks files', async () => {
    const random = createRandom(8)
    const size = 9 * MiB + 512
    const base = randomSparseDisk(random, size, 6)
    await writeFile(join(dir, 'base.raw'), base)
    assert.equal((await cli('vhd', 'from-raw', join(dir, 'base.raw'), join(dir, 'base.vhd'))).code, 0)
    const info = await cli('vhd', 'info', '--json', join(dir, 'base.vhd'))
    assert.equal(info.code, 0)
    const parsed = JSON.parse(info.out) as { virtualSize: number; diskType: string; creator: string }
    assert.deepEqual([parsed.virtualSize, parsed.diskType, parsed.creator], [size, 'dynamic', 'tap'])
    assert.match((await cli('vhd', 'info', join(dir, 'base.vhd'))).out, /virtualSize\s+9437696/)

    const next = applyExtents(
      random,
      base.slice(),
      randomExtents(random, size, 1, 2 * MiB, 8).map((e) => ({
        offset: e.offset,
        length: Math.min(e.length, 4096),
      })),
    )
    await writeFile(join(dir, 'next.raw'), next)
    const delta = await cli(
      'vhd',
      'from-raw',
      join(dir, 'next.raw'),
      join(dir, 'next.vhd'),
      '--parent',
      join(dir, 'base.vhd'),
    )
    assert.equal(delta.code, 0, delta.err)
    assert.match(delta.out, /: [12] block\(s\) over/)
    assert.equal((await cli('vhd', 'check', join(dir, 'base.vhd'), join(dir, 'next.vhd'))).code, 0)

    assert.equal((await cli('vhd', 'to-raw', join(dir, 'next.vhd'), join(dir, 'out.raw'))).code, 0)
    assert.ok(
      Buffer.from(next).equals(await readFile(join(dir, 'out.raw'))),
      "Buffer.from(next).equals(await readFile(join(dir, 'out.raw')))",
    )

    const merge = await cli('vhd', 'merge', join(dir, 'next.vhd'))
    assert.equal(merge.code, 0, merge.err)
    assert.ok(
      merge.out.includes(
        `${join(dir, 'next.vhd')} now holds the merged disk (${join(dir, 'base.vhd')} was renamed to it)`,
      ),
      merge.out,
    )
    assert.match(merge.out, /^removed: no other file$/m)
    assert.ok(!(await readdir(dir)).includes('base.vhd'), 'the parent took the child name')
    assert.equal(
      (JSON.parse((await cli('vhd', 'info', '--json', join(dir, 'next.vhd'))).out) as { diskType: string })
        .diskType,
      'dynamic',
    )
    assert.equal((await cli('vhd', 'to-raw', join(dir, 'next.vhd'), join(dir, 'merged.raw'))).code, 0)
    assert.ok(
      Buffer.from(next).equals(await readFile(join(dir, 'merged.raw'))),
      "Buffer.from(next).equals(await readFile(join(dir, 'merged.raw')))",
    )
  })

  it('resumes an interrupted merge found by its state file', async () => {
    const random = createRandom(12)
    const base = randomSparseDisk(random, 4 * MiB, 3)
    const next = applyExtents(random, base.slice(), [{ offset: 2 * MiB, length: 4096 }])
    await writeFile(join(dir, 'r0.raw'), base)
    await writeFile(join(dir, 'r1.raw'), next)
    await cli('vhd', 'from-raw', join(dir, 'r0.raw'), join(dir, 'r0.vhd'))
    await cli('vhd', 'from-raw', join(dir, 'r1.raw'), join(dir, 'r1.vhd'), '--parent', join(dir, 'r0.vhd'))
    const crashing: MergeStore = {
      ...localMergeStore,
      async rename(from, to) {
        await localMergeStore.rename(from, to)
        throw new Error('crash right after the rename')
      },
    }
    await assert.rejects(mergeVhdChain(crashing, [join(dir, 'r0.vhd'), join(dir, 'r1.vhd')]))
    assert.ok(
      (await readdir(dir)).includes('.r0.vhd.merge.json'),
      "(await readdir(dir)).includes('.r0.vhd.merge.json')",
    )
    const resumed = await cli('vhd', 'merge', join(dir, 'r1.vhd'))
    assert.equal(resumed.code, 0, resumed.err)
    assert.match(resumed.out, /\(resumed\)/)
    assert.ok(
      !(await readdir(dir)).includes('.r0.vhd.merge.json'),
      "!(await readdir(dir)).includes('.r0.vhd.merge.json')",
    )
    assert.equal((await cli('vhd', 'to-raw', join(dir, 'r1.vhd'), join(dir, 'r1.out'))).code, 0)
    assert.ok(
      Buffer.from(next).equals(await readFile(join(dir, 'r1.out'))),
      "Buffer.from(next).equals(await readFile(join(dir, 'r1.out')))",
    )
  })

  it('merges --into a grandparent and says which file holds the disk and which were removed', async () => {
    const random = createRandom(13)
    let content = randomSparseDisk(random, 4 * MiB, 3)
    let parent: string | undefined
    for (const name of ['g0', 'g1', 'g2']) {
      if (parent !== undefined)
        content = applyExtents(random, content.slice(), [{ offset: MiB, length: 4096 }])
      await writeFile(join(dir, `${name}.raw`), content)
      const args = ['vhd', 'from-raw', join(dir, `${name}.raw`), join(dir, `${name}.vhd`)]
      const made = await cli(...args, ...(parent === undefined ? [] : ['--parent', parent]))
      assert.equal(made.code, 0, made.err)
      parent = join(dir, `${name}.vhd`)
    }
    const merge = await cli('vhd', 'merge', join(dir, 'g2.vhd'), '--into', join(dir, 'g0.vhd'))
    assert.equal(merge.code, 0, merge.err)
    assert.match(merge.out, /^merged \d+ block\(s\) \(\d+ bytes\)$/m)
    assert.ok(
      merge.out.includes(`${join(dir, 'g2.vhd')} now holds the merged disk (${join(dir, 'g0.vhd')} was`),
      "merge.out.includes(`${join(dir, 'g2.vhd')} now holds the merged disk (${join(dir, 'g0.vhd')} was`)",
    )
    assert.ok(merge.out.includes(`removed: ${join(dir, 'g1.vhd')}\n`), merge.out)
    const names = await readdir(dir)
    assert.deepEqual(
      [names.includes('g0.vhd'), names.includes('g1.vhd'), names.includes('g2.vhd')],
      [false, false, true],
    )
    assert.equal((await cli('vhd', 'to-raw', join(dir, 'g2.vhd'), join(dir, 'g2.out'))).code, 0)
    assert.ok(
      Buffer.from(content).equals(await readFile(join(dir, 'g2.out'))),
      "Buffer.from(content).equals(await readFile(join(dir, 'g2.out')))",
    )
  })

  it('to-raw makes its output durable: the output is synced at its full length before success', async (t) => {
    if (!existsSync('/proc/self/fd')) {
      t.skip('needs /proc/self/fd to name a synced handle')
      return
    }
    const random = createRandom(14)
    const content = randomSparseDisk(random, 5 * MiB + 512, 3)
    await writeFile(join(dir, 's.raw'), content)
    assert.equal((await cli('vhd', 'from-raw', join(dir, 's.raw'), join(dir, 's.vhd'))).code, 0)
    // Every FileHandle shares one prototype: record which file each sync reached, and its size then.
    const probe = await open(join(dir, 's.raw'))
    const proto = Object.getPrototypeOf(probe) as FileHandle
    await probe.close()
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this), then put back
    const original = { datasync: proto.datasync, sync: proto.sync }
    const synced: string[] = []
    const record = async (handle: FileHandle): Promise<void> => {
      synced.push(`${readlinkSync(`/proc/self/fd/${handle.fd}`)} ${(await handle.stat()).size}`)
    }
    proto.datasync = async function (this: FileHandle) {
      await record(this)
      return original.datasync.call(this)
    }
    proto.sync = async function (this: FileHandle) {
      await record(this)
      return original.sync.call(this)
    }
    let run
    try {
      run = await cli('vhd', 'to-raw', join(dir, 's.vhd'), join(dir, 's.out'))
    } finally {
      Object.assign(proto, original)
    }
    assert.equal(run.code, 0, run.err)
    assert.ok(synced.includes(`${realpathSync(join(dir, 's.out'))} ${content.length}`), synced.join('\n'))
    assert.ok(
      Buffer.from(content).equals(await readFile(join(dir, 's.out'))),
      "Buffer.from(content).equals(await readFile(join(dir, 's.out')))",
    )
  })

  it('converts a sparse raw file (read with O_DIRECT where the file system allows) with an unaligned end', async () => {
    const size = 40 * MiB + 3 * 512 + 100
    const content = new Uint8Array(size)
    const random = createRandom(15)
    const path = join(dir, 'holes.raw')
    const handle = await open(path, 'w')
    try {
      // Data in a few places, the end included; holes everywhere else.
      for (const offset of [0, 7 * MiB + 4096, 21 * MiB - 512, size - 5000]) {
        const data = randomSparseDisk(random, 4096, 1, 4096).map((b, i) => b | (i === 0 ? 1 : 0))
        const piece = data.subarray(0, Math.min(data.length, size - offset))
        content.set(piece, offset)
        await handle.write(piece, 0, piece.length, offset)
      }
      await handle.truncate(size)
    } finally {
      await handle.close()
    }
    const raw = await LocalFile.open(path)
    const scan = await openSparseScan(path, raw)
    await Promise.all([raw.close(), scan?.close()])
    const made = await cli('vhd', 'from-raw', path, join(dir, 'holes.vhd'))
    assert.equal(made.code, 0, made.err)
    assert.match(made.out, /: 4 block\(s\)/)
    assert.equal((await cli('vhd', 'to-raw', join(dir, 'holes.vhd'), join(dir, 'holes.out'))).code, 0)
    const back = await readFile(join(dir, 'holes.out'))
    const padded = new Uint8Array(Math.ceil(size / 512) * 512)
    padded.set(content)
    assert.ok(
      Buffer.from(padded).equals(back),
      `content back (scan handle: ${scan === undefined ? 'none' : 'O_DIRECT'})`,
    )
    const dense = await LocalFile.open(join(dir, 's.raw'))
    assert.equal(
      await openSparseScan(join(dir, 's.raw'), dense),
      undefined,
      'a dense file is read through the cache',
    )
    await dense.close()
  })

  it('exits 1 on a damaged file and names the field', async () => {
    const bytes = await readFile(join(dir, 'next.vhd'))
    bytes[bytes.length - 512 + 50] = (bytes[bytes.length - 512 + 50] ?? 0) ^ 0xff
    await writeFile(join(dir, 'bad.vhd'), bytes)
    const result = await cli('vhd', 'check', join(dir, 'next.vhd'), join(dir, 'bad.vhd'))
    assert.equal(result.code, 1)
    assert.match(result.out, /^ok .*next\.vhd$/m)
    assert.match(
      result.out,
      /error \[VHD_INVALID\] .*bad\.vhd@\d+ footer\.checksum: expected 0x[0-9a-f]{8}, got 0x[0-9a-f]{8}/,
    )
    assert.match(result.err, /1 of 2 file\(s\) damaged/)
    assert.equal((await cli('vhd', 'merge', join(dir, 'next.vhd'))).code, 1)
  })
})
