import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { GNU_TAR, requireTool } from '../../shared/testing/oracles.ts'
import { decodeTarHeader, encodeTarHeader } from './tar-header.ts'
import { readTarEntries } from './tar-reader.ts'

describe('tar headers', () => {
  it('round-trip names, sizes (base-256 beyond 8 GiB) and mtime', () => {
    for (const size of [0, 1, 512, 8 ** 11 - 1, 9 * 1024 ** 3, 2040 * 1024 ** 3]) {
      const header = decodeTarHeader(encodeTarHeader('Ref:12/00000007', size, 1_700_000_000), 0)
      assert.deepEqual(header, {
        name: 'Ref:12/00000007',
        sizeBytes: size,
        type: 'file',
        mode: 0o400,
        mtimeSeconds: 1_700_000_000,
      })
    }
    assert.throws(() => encodeTarHeader('x'.repeat(101), 0), /longer than 100 bytes/)
  })

  it('reads pax and GNU long names and skips directories, as GNU tar writes them', async (t) => {
    if (!requireTool(t, GNU_TAR)) return
    const dir = await mkdtemp(join(tmpdir(), 'tar-'))
    try {
      const long = `${'d'.repeat(120)}.bin`
      await writeFile(join(dir, long), 'long')
      await writeFile(join(dir, 'short'), 'short')
      for (const format of ['gnu', 'pax']) {
        const archive = join(dir, `${format}.tar`)
        const run = spawnSync('tar', [`--format=${format}`, '-cf', archive, '-C', dir, long, 'short'], {
          encoding: 'utf8',
        })
        assert.equal(run.status, 0, run.stderr)
        const entries = []
        for await (const entry of readTarEntries([await readFile(archive)]))
          entries.push([entry.name, Buffer.from(entry.data).toString()])
        assert.deepEqual(entries, [
          [long, 'long'],
          ['short', 'short'],
        ])
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses an entry larger than the memory bound', async () => {
    const header = encodeTarHeader('big', 10 * 1024 * 1024)
    await assert.rejects(
      readTarEntries([header], { maxEntryBytes: 1024 * 1024 }).next(),
      /entry "big" at 0: expected at most 1048576 bytes, got 10485760/,
    )
  })
})
