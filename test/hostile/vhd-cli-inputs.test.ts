// Inputs that are no VHD (issue #6): `vhd info` says "not a VHD file" and names the file for a text
// file, an empty file, a directory and a FIFO (which must not block the open); `vhd check` reports a
// directory among files on its own line and goes on to the next file, exit 1 at the end.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { snapshotTree } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import { createRandom, randomSparseDisk } from '../../src/formats/vhd/testing/random-disk.ts'
import { runBounded } from '../support/bounded-child.ts'

let dir = ''
const at = (name: string): string => join(dir, name)

describe('vhd info/check: files that are not VHDs', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-vhd-inputs-'))
    await writeFile(at('notes.txt'), 'hello\n')
    await writeFile(at('long.txt'), 'not a disk\n'.repeat(500))
    await writeFile(at('empty'), '')
    await mkdir(at('folder'))
    execFileSync('mkfifo', [at('fifo')])
    await writeFile(at('disk.raw'), randomSparseDisk(createRandom(4), 3 * 2 ** 20, 2))
    assert.equal((await cli('vhd', 'from-raw', at('disk.raw'), at('disk.vhd'))).code, 0)
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('info: "not a VHD file" with the file named, for a text file, a long text file and an empty file', async () => {
    for (const [name, reason] of [
      ['notes.txt', /6 bytes, less than the 512 of a VHD footer/],
      ['long.txt', /no VHD footer cookie "conectix" at its end or start/],
      ['empty', /0 bytes/],
    ] as const) {
      const run = await cli('vhd', 'info', at(name))
      assert.equal(run.code, 1, run.err)
      assert.match(run.err, /^error: not a VHD file: /)
      assert.match(run.err, reason)
      assert.ok(run.err.includes(`(${at(name)})`), `names the file: ${run.err}`)
      assert.match(run.err, /\[NOT_A_VHD\]/)
      assert.doesNotMatch(run.err, /footer\.|expected/, 'no footer field jargon')
      assert.equal(run.err.trim().split('\n').length, 1)
    }
  })

  it('info: a directory, and a FIFO in a child process that must not block on its open', async () => {
    const run = await cli('vhd', 'info', at('folder'))
    assert.equal(run.code, 1)
    assert.match(run.err, /^error: not a VHD file: it is a directory \(.*folder\) \[NOT_A_FILE\]/)
    const fifo = await runBounded('src/cli/main.ts', ['vhd', 'info', at('fifo')], { timeoutMs: 30_000 })
    assert.equal(fifo.timedOut, false, 'a FIFO is refused, not opened for a read that waits for a writer')
    assert.equal(fifo.status, 1, fifo.stderr)
    assert.match(fifo.stderr, /not a VHD file: it is a pipe .*fifo/)
  })

  it('check: a directory, a FIFO and text files among VHDs are findings; every file is checked', async () => {
    const before = await snapshotTree(dir)
    const files = ['disk.vhd', 'folder', 'notes.txt', 'fifo', 'empty', 'disk.vhd'].map(at)
    const run = await runBounded('src/cli/main.ts', ['vhd', 'check', ...files], { timeoutMs: 30_000 })
    assert.equal(run.timedOut, false)
    assert.equal(run.status, 1, run.stderr)
    const lines = run.stdout.trim().split('\n')
    assert.deepEqual(
      lines.map((line) => line.replace(dir, 'DIR')),
      [
        'ok DIR/disk.vhd',
        'error [NOT_A_FILE] DIR/folder: not a VHD file: it is a directory',
        'error [NOT_A_VHD] DIR/notes.txt: not a VHD file: 6 bytes, less than the 512 of a VHD footer',
        'error [NOT_A_FILE] DIR/fifo: not a VHD file: it is a pipe',
        'error [NOT_A_VHD] DIR/empty: not a VHD file: 0 bytes, less than the 512 of a VHD footer',
        'ok DIR/disk.vhd',
      ],
    )
    assert.match(run.stderr, /4 of 6 file\(s\)/)
    assert.deepEqual(await snapshotTree(dir), before, 'check changes nothing')
  })

  it('from-raw: a directory or a FIFO as the raw image is refused before any output exists', async () => {
    const before = await snapshotTree(dir)
    const run = await cli('vhd', 'from-raw', at('folder'), at('out.vhd'))
    assert.equal(run.code, 1)
    assert.match(run.err, /^error: not a raw image file: it is a directory/)
    const fifo = await runBounded('src/cli/main.ts', ['vhd', 'from-raw', at('fifo'), at('out.vhd')], {
      timeoutMs: 30_000,
    })
    assert.equal(fifo.timedOut, false)
    assert.equal(fifo.status, 1, fifo.stderr)
    assert.match(fifo.stderr, /not a raw image file: it is a pipe/)
    assert.deepEqual(await snapshotTree(dir), before)
  })
})
