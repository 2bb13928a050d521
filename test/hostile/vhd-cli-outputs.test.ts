// Outputs never destroy inputs (issue #3): `vhd to-raw` and `vhd from-raw` refuse an output that
// is the same file as an input — by name, through a symlink, through a hard link, or a file of the
// parent chain — before anything is created or truncated, and every file is byte-identical after.
import assert from 'node:assert/strict'
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { snapshotTree } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import { applyExtents, createRandom, randomSparseDisk } from '../../src/formats/vhd/testing/random-disk.ts'

const MiB = 2 ** 20
let dir = ''
const at = (name: string): string => join(dir, name)

/** Runs the command, expects OUTPUT_IS_INPUT naming `names`, and no file created, changed or removed. */
async function refused(args: string[], names: string): Promise<void> {
  const before = await snapshotTree(dir)
  const run = await cli('vhd', ...args)
  assert.equal(run.code, 1, `exit 1, got ${run.code}: ${run.out}${run.err}`)
  assert.match(run.err, /^error: the output is .*: writing it would destroy that input .*\[OUTPUT_IS_INPUT\]/)
  assert.ok(run.err.includes(names), `the error names ${names}: ${run.err}`)
  assert.equal(run.err.trim().split('\n').length, 1, 'one line')
  assert.deepEqual(await snapshotTree(dir), before, 'every file byte-identical, nothing created or removed')
}

describe('vhd to-raw/from-raw: an output that is an input is refused', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-vhd-outputs-'))
    const random = createRandom(21)
    const base = randomSparseDisk(random, 6 * MiB, 4)
    await writeFile(at('base.raw'), base)
    await writeFile(at('next.raw'), applyExtents(random, base.slice(), [{ offset: MiB, length: 4096 }]))
    await writeFile(at('canary.txt'), 'not to be touched\n')
    assert.equal((await cli('vhd', 'from-raw', at('base.raw'), at('base.vhd'))).code, 0)
    const delta = await cli('vhd', 'from-raw', at('next.raw'), at('child.vhd'), '--parent', at('base.vhd'))
    assert.equal(delta.code, 0, delta.err)
    await symlink('base.vhd', at('vhd-symlink'))
    await link(at('base.vhd'), at('vhd-hardlink'))
    await symlink(at('base.raw'), at('raw-symlink'))
    await link(at('base.raw'), at('raw-hardlink'))
    await mkdir(at('sub'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('to-raw: the VHD itself, by name, by another spelling, through a symlink or a hard link', async () => {
    await refused(['to-raw', at('base.vhd'), at('base.vhd')], at('base.vhd'))
    await refused(['to-raw', at('base.vhd'), join(dir, 'sub', '..', 'base.vhd')], 'base.vhd')
    await refused(['to-raw', at('base.vhd'), at('vhd-symlink')], at('vhd-symlink'))
    await refused(['to-raw', at('vhd-symlink'), at('base.vhd')], at('base.vhd'))
    await refused(['to-raw', at('base.vhd'), at('vhd-hardlink')], at('vhd-hardlink'))
  })

  it('to-raw: a file of the parent chain', async () => {
    await refused(['to-raw', at('child.vhd'), at('base.vhd')], at('base.vhd'))
    await refused(['to-raw', at('child.vhd'), at('vhd-hardlink')], at('vhd-hardlink'))
  })

  it('from-raw: the raw image by name, through a symlink or a hard link', async () => {
    await refused(['from-raw', at('base.raw'), at('base.raw')], at('base.raw'))
    await refused(['from-raw', at('base.raw'), at('raw-symlink')], at('raw-symlink'))
    await refused(['from-raw', at('raw-symlink'), at('base.raw')], at('base.raw'))
    await refused(['from-raw', at('base.raw'), at('raw-hardlink')], at('raw-hardlink'))
  })

  it('from-raw --parent: the parent, or any file of its chain', async () => {
    await refused(['from-raw', at('next.raw'), at('base.vhd'), '--parent', at('base.vhd')], at('base.vhd'))
    await refused(['from-raw', at('next.raw'), at('child.vhd'), '--parent', at('child.vhd')], at('child.vhd'))
    await refused(['from-raw', at('next.raw'), at('base.vhd'), '--parent', at('child.vhd')], at('base.vhd'))
    await refused(['from-raw', at('next.raw'), at('vhd-symlink'), '--parent', at('child.vhd')], 'vhd-symlink')
  })

  it('refuses a directory as the output before writing anything, and still converts to a new name', async () => {
    const before = await snapshotTree(dir)
    for (const command of ['to-raw', 'from-raw']) {
      const input = command === 'to-raw' ? at('base.vhd') : at('base.raw')
      const run = await cli('vhd', command, input, at('sub'))
      assert.equal(run.code, 1, run.err)
      assert.match(run.err, /^error: .*(directory).*sub/)
    }
    assert.deepEqual(await snapshotTree(dir), before)
    const ok = await cli('vhd', 'to-raw', at('child.vhd'), at('sub/out.raw'))
    assert.equal(ok.code, 0, ok.err)
    const after = await snapshotTree(dir)
    assert.equal(after['sub/out.raw'], before['next.raw'], 'the chain content, next to untouched inputs')
    delete after['sub/out.raw']
    assert.deepEqual(after, before)
  })
})
