import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import xxhashWasm from 'xxhash-wasm'
import { GNU_TAR, requireTool, SHA1SUM, ZSTD } from '../../shared/testing/oracles.ts'
import {
  assertSameBytes,
  bufferBlockSource,
  collect,
  createRandom,
  randomSparseDisk,
} from '../vhd/testing/random-disk.ts'
import { XVA_CHUNK_BYTES } from './chunking.ts'
import { compressXva } from './compression.ts'
import * as testing from './testing/xva-helpers.ts'
import { sampleOva } from './testing/sample-ova.ts'
import type { ChunkChecksum } from './chunk-checksum.ts'
import { openXva } from './xva-reader.ts'
import { writeXva } from './xva-writer.ts'

const MiB = 1024 * 1024
let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xva-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('XVA write → read round trip', () => {
  const cases: {
    name: string
    sizes: number[]
    checksum: ChunkChecksum
    blockSize: number
    compression?: 'gzip' | 'zstd'
  }[] = [
    { name: 'no disk', sizes: [], checksum: 'xxhash', blockSize: 2 * MiB },
    { name: 'one disk, 2 MiB blocks', sizes: [9 * MiB + 4096], checksum: 'xxhash', blockSize: 2 * MiB },
    {
      name: 'three disks, SHA-1, 64 KiB blocks',
      sizes: [3 * MiB, 512, 5 * MiB + 512],
      checksum: 'sha1',
      blockSize: 64 * 1024,
    },
    {
      name: 'two disks, gzip',
      sizes: [4 * MiB, 6 * MiB - 512],
      checksum: 'xxhash',
      blockSize: MiB,
      compression: 'gzip',
    },
    {
      name: 'two disks, zstd',
      sizes: [4 * MiB, 3 * MiB],
      checksum: 'sha1',
      blockSize: 2 * MiB,
      compression: 'zstd',
    },
  ]
  for (const c of cases) {
    it(`reproduces every disk byte for byte: ${c.name}`, async () => {
      const random = createRandom(c.sizes.length * 7 + 1)
      const disksRaw = c.sizes.map((size) => randomSparseDisk(random, size, 6))
      const ova = sampleOva(c.sizes)
      const vdiIds = ova.objects.filter((o) => o.class === 'VDI').map((o) => o.id)
      let bytes = await collect(
        writeXva(
          ova,
          disksRaw.map((raw, i) => ({ id: vdiIds[i] ?? '', source: bufferBlockSource(raw, c.blockSize) })),
          { checksum: c.checksum },
        ),
      )
      if (c.compression !== undefined)
        bytes = await collect(compressXva(testing.chunked(bytes, 300_000), c.compression))
      const reader = await openXva(testing.chunked(bytes, 100_000))
      assert.equal(reader.compression, c.compression ?? 'none')
      // XAPI writes integers untyped, so they read back as digit strings (xapi.md §4).
      assert.deepEqual(
        reader.ova,
        testing.integersAsStrings(ova),
        'ova.xml round-trips, doubles and datetimes included',
      )
      const seen: string[] = []
      for await (const disk of reader.disks()) {
        seen.push(disk.id)
        const index = vdiIds.indexOf(disk.id)
        const raw = disksRaw[index] ?? new Uint8Array()
        assert.equal(disk.virtualSize, raw.length)
        assertSameBytes(await testing.materialise(disk), raw, disk.id)
      }
      assert.deepEqual(seen, [...vdiIds].sort(), 'disks in XAPI order: ids compared as strings')
    })
  }
})

describe('XVA layout (what XAPI writes and needs)', () => {
  it('skips zero chunks but always writes the first and the last', async () => {
    const raw = new Uint8Array(8 * MiB + 512)
    raw.fill(7, 3 * MiB, 3 * MiB + 10)
    const ova = sampleOva([raw.length])
    const id = ova.objects.find((o) => o.class === 'VDI')?.id ?? ''
    const names = await testing.entryNames(writeXva(ova, [{ id, source: bufferBlockSource(raw, 2 * MiB) }]))
    assert.deepEqual(names, [
      'ova.xml',
      `${id}/00000000`,
      `${id}/00000000.xxhash`,
      `${id}/00000003`,
      `${id}/00000003.xxhash`,
      `${id}/00000008`,
      `${id}/00000008.xxhash`,
    ])
  })

  it('costs what a disk holds, not its size: a 2 TiB disk with two blocks', async () => {
    const virtualSize = 2 * 1024 ** 4
    const block = new Uint8Array(2 * MiB).fill(9)
    const source = {
      virtualSize,
      blockSize: 2 * MiB,
      blockIndexes: [5, 700_000],
      async *blocks() {
        for (const index of [5, 700_000]) yield await Promise.resolve({ index, data: block })
      },
    }
    const ova = sampleOva([virtualSize])
    const id = ova.objects.find((o) => o.class === 'VDI')?.id ?? ''
    const names = (await testing.entryNames(writeXva(ova, [{ id, source }]))).filter((n) => !n.includes('.'))
    assert.deepEqual(
      names,
      [0, 10, 11, 1_400_000, 1_400_001, 2_097_151].map((n) => `${id}/${String(n).padStart(8, '0')}`),
    )
  })

  it('lists cleanly with GNU tar and its checksums verify with other implementations', async (t) => {
    if (!requireTool(t, GNU_TAR) || !requireTool(t, SHA1SUM)) return
    const raw = randomSparseDisk(createRandom(3), 5 * MiB + 1024, 5)
    const ova = sampleOva([raw.length, raw.length])
    const [a, b] = ova.objects.filter((o) => o.class === 'VDI').map((o) => o.id)
    const write = async (checksum: ChunkChecksum, file: string) => {
      const bytes = await collect(
        writeXva(
          ova,
          [
            { id: a ?? '', source: bufferBlockSource(raw) },
            { id: b ?? '', source: bufferBlockSource(raw) },
          ],
          { checksum, mtimeSeconds: 1_800_000_000 },
        ),
      )
      await writeFile(join(dir, file), bytes)
    }
    await write('xxhash', 'x.xva')
    await write('sha1', 's.xva')
    const listing = spawnSync('tar', ['tvf', join(dir, 'x.xva')], { encoding: 'utf8' })
    assert.equal(listing.status, 0, listing.stderr)
    assert.equal(listing.stderr, '')
    const lines = listing.stdout.trim().split('\n')
    assert.match(lines[0] ?? '', /^-r-------- 0\/0 +\d+ 2027-01-15 \d\d:\d\d ova\.xml$/)
    assert.ok(
      lines.every((l) => l.startsWith('-r-------- 0/0')),
      "lines.every((l) => l.startsWith('-r-------- 0/0'))",
    )

    const hasher = await xxhashWasm()
    for (const [file, suffix] of [
      ['x.xva', '.xxhash'],
      ['s.xva', '.checksum'],
    ] as const) {
      const out = join(dir, `${file}.d`)
      spawnSync('mkdir', ['-p', out])
      const extract = spawnSync('tar', ['xf', join(dir, file), '-C', out], { encoding: 'utf8' })
      assert.equal(extract.status, 0, extract.stderr)
      let verified = 0
      for (const ref of [a, b]) {
        const names = (await readdir(join(out, ref ?? ''))).filter((n) => !n.includes('.'))
        for (const name of names) {
          const path = join(out, ref ?? '', name)
          const stored = (await readFile(`${path}${suffix}`, 'ascii')).trim()
          const expected =
            suffix === '.xxhash'
              ? hasher
                  .h64Raw(await readFile(path))
                  .toString(16)
                  .toUpperCase()
                  .padStart(16, '0')
              : (spawnSync('sha1sum', [path], { encoding: 'utf8' }).stdout.split(' ')[0] ?? '')
          assert.equal(stored, expected, `${file} ${ref ?? ''}/${name}`)
          verified++
        }
      }
      assert.ok(verified >= 4, `${verified} chunks verified in ${file}`)
    }
  })

  it('compresses so that the zstd and gzip tools read it, and reads what they compress', async (t) => {
    if (!requireTool(t, GNU_TAR) || !requireTool(t, ZSTD)) return
    const raw = randomSparseDisk(createRandom(8), 3 * MiB, 3)
    const ova = sampleOva([raw.length])
    const id = ova.objects.find((o) => o.class === 'VDI')?.id ?? ''
    const plain = await collect(writeXva(ova, [{ id, source: bufferBlockSource(raw) }]))
    for (const [compression, tool] of [
      ['zstd', 'zstd'],
      ['gzip', 'gzip'],
    ] as const) {
      const ours = join(dir, `ours.xva.${compression}`)
      await writeFile(ours, await collect(compressXva(testing.chunked(plain, 65_536), compression)))
      const listing = spawnSync('sh', ['-c', `${tool} -dc '${ours}' | tar tf -`], { encoding: 'utf8' })
      assert.equal(listing.status, 0, listing.stderr)
      assert.equal(listing.stdout.split('\n')[0], 'ova.xml')
      const theirs = spawnSync(tool, ['-c'], { input: plain, maxBuffer: 1 << 26 })
      assert.equal(theirs.status, 0)
      const reader = await openXva(testing.chunked(theirs.stdout, 65_536))
      assert.equal(reader.compression, compression)
      for await (const disk of reader.disks()) assertSameBytes(await testing.materialise(disk), raw)
    }
  })

  it('reads an XVA that GNU tar built (directory entries, GNU headers, SHA-1 checksums)', async (t) => {
    if (!requireTool(t, GNU_TAR)) return
    const raw = randomSparseDisk(createRandom(11), 3 * MiB, 4)
    const ova = sampleOva([raw.length])
    const id = ova.objects.find((o) => o.class === 'VDI')?.id ?? ''
    const src = join(dir, 'gnu-src')
    await testing.explode(ova, id, raw, src)
    const xva = join(dir, 'gnu.xva')
    const names = ['ova.xml', `${id}/`, ...(await readdir(join(src, id))).sort().map((n) => `${id}/${n}`)]
    const pack = spawnSync('tar', ['--format=gnu', '--no-recursion', '-cf', xva, '-C', src, ...names], {
      encoding: 'utf8',
    })
    assert.equal(pack.status, 0, pack.stderr)
    const reader = await openXva(testing.chunked(await readFile(xva), 65_536))
    const disks = []
    for await (const disk of reader.disks())
      disks.push({ id: disk.id, bytes: await testing.materialise(disk) })
    assert.equal(disks.length, 1)
    assertSameBytes(disks[0]?.bytes ?? new Uint8Array(), raw)
  })
})

describe('XVA reader on bad input', () => {
  const build = async (checksum: ChunkChecksum = 'xxhash') => {
    const raw = randomSparseDisk(createRandom(5), 4 * MiB, 8)
    raw.fill(1, 0, 100)
    const ova = sampleOva([raw.length])
    const id = ova.objects.find((o) => o.class === 'VDI')?.id ?? ''
    return {
      raw,
      id,
      bytes: await collect(writeXva(ova, [{ id, source: bufferBlockSource(raw) }], { checksum })),
    }
  }
  const readAll = async (bytes: Uint8Array, force = false) => {
    const reader = await openXva(testing.chunked(bytes, 4096), { force })
    for await (const disk of reader.disks()) await testing.materialise(disk)
    return reader
  }
  const rejectsWith = async (promise: Promise<unknown>, code: string, message: RegExp) => {
    await assert.rejects(promise, (e: Error & { code?: string }) => {
      assert.equal(e.code, code, e.message)
      assert.match(e.message, message)
      return true
    })
  }

  it('a truncated stream never reads as complete, wherever it is cut', async () => {
    const { bytes } = await build()
    const cuts = [
      0,
      100,
      512,
      1500,
      600_000,
      XVA_CHUNK_BYTES + 1536 + 512,
      bytes.length - 1024,
      bytes.length - 1,
    ]
    for (const cut of cuts) {
      await rejectsWith(readAll(bytes.subarray(0, cut)), 'XVA_TRUNCATED', /expected/)
    }
  })

  it('a flipped bit in a chunk is a checksum mismatch naming the entry, unless forced', async () => {
    for (const checksum of ['xxhash', 'sha1'] as const) {
      const { bytes, id } = await build(checksum)
      const corrupt = Uint8Array.from(bytes)
      const at = testing.dataOffsetOf(corrupt, `${id}/00000000`) + 10
      corrupt[at] = (corrupt[at] ?? 0) ^ 0x01
      await rejectsWith(
        readAll(corrupt),
        'XVA_CHECKSUM_MISMATCH',
        new RegExp(`${id}/00000000\\.(xxhash|checksum): expected [0-9a-fA-F]+, got`),
      )
      const forced = await readAll(corrupt, true)
      assert.deepEqual(forced.forcedChunks, [`${id}/00000000`])
    }
  })

  it('a corrupt tar header is rejected with its offset', async () => {
    const { bytes } = await build()
    const corrupt = Uint8Array.from(bytes)
    corrupt[0] = 0x41
    await rejectsWith(readAll(corrupt), 'XVA_TAR_INVALID', /tar header at 0, checksum: expected \d+, got \d+/)
  })

  it('ova.xml must come first, and chunks need their checksum entry', async () => {
    const { id, raw } = await build()
    const tarOf = (entries: [string, Uint8Array][]) => testing.tar(entries)
    await rejectsWith(
      readAll(tarOf([['README', Buffer.from('hi')]])),
      'XVA_UNEXPECTED_ENTRY',
      /first entry: expected ova\.xml, got "README"/,
    )
    const ova = Buffer.from((await import('./ova-xml.ts')).encodeOvaXml(sampleOva([raw.length])))
    await rejectsWith(
      readAll(
        tarOf([
          ['ova.xml', ova],
          [`${id}/00000000`, raw.subarray(0, MiB)],
        ]),
      ),
      'XVA_UNEXPECTED_ENTRY',
      new RegExp(
        `after chunk ${id}/00000000: expected ${id}/00000000\\.xxhash or \\.checksum, got the end of the archive`,
      ),
    )
    await rejectsWith(
      readAll(
        tarOf([
          ['ova.xml', ova],
          ['Ref:999/00000000', raw.subarray(0, MiB)],
        ]),
      ),
      'XVA_UNEXPECTED_ENTRY',
      /expected a VDI Ref:999 in ova\.xml/,
    )
    await rejectsWith(
      readAll(tarOf([['ova.xml', Buffer.from('<value><struct></value>')]])),
      'XVA_OVA_INVALID',
      /well-formed XML/,
    )
  })

  it('rejects chunks out of order or beyond virtual_size', async () => {
    const { id, raw } = await build()
    const ova = Buffer.from((await import('./ova-xml.ts')).encodeOvaXml(sampleOva([raw.length])))
    const chunk = (n: number) => testing.chunkEntries(id, n, new Uint8Array(MiB).fill(n + 1))
    await rejectsWith(
      readAll(testing.tar([['ova.xml', ova], ...chunk(2), ...chunk(1)])),
      'XVA_UNEXPECTED_ENTRY',
      /a chunk number above 2, got 1/,
    )
    await rejectsWith(
      readAll(testing.tar([['ova.xml', ova], ...chunk(4)])),
      'XVA_UNEXPECTED_ENTRY',
      /within virtual_size 4194304/,
    )
  })

  it('rejects garbage behind a zstd magic as invalid zstd data', async () => {
    await rejectsWith(readAll(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])), 'XVA_TAR_INVALID', /zstd/)
  })
})
