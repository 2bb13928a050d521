import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { writeVhdStream } from '../formats/vhd/conversions.ts'
import { BufferFile } from '../formats/vhd/random-access-file.ts'
import { planVhdStream } from '../formats/vhd/vhd-stream-writer.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { ancestorsOf, readLineage } from './lineage.ts'
import { vdiDir } from './layout.ts'
import { IDS } from './testing/sample-metadata.ts'

const dir = vdiDir(IDS.vm, IDS.job, IDS.vdiA)
const uuid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`

/** An empty dynamic (no parent) or differencing VHD of 2 MiB, as bytes. */
async function vhd(i: number, parent?: { index: number; path: string }): Promise<Uint8Array> {
  const file = new BufferFile()
  const plan = planVhdStream(
    {
      virtualSize: 2 * 1024 * 1024,
      blockSize: 2 * 1024 * 1024,
      blockIndexes: [],
      blocks: async function* () {},
    },
    {
      uniqueId: uuid(i),
      timestampMs: Date.UTC(2026, 0, 1),
      ...(parent === undefined
        ? {}
        : { parent: { uniqueId: uuid(parent.index), relativePath: parent.path } }),
    },
  )
  await writeVhdStream(plan, file)
  return file.bytes.slice()
}

describe('readLineage', () => {
  it('judges a long chain (2,000 disks) iteratively: a hostile folder can hold any chain', async () => {
    const remote = new MemoryRemote()
    // The recursive walk this replaces overflowed the stack at 10,000 (20 s to build here): 2,000
    // keeps the test quick while checking the iterative walk links a long chain end to end.
    const count = 2000
    const paths: string[] = []
    const base = await vhd(0)
    await remote.write(`${dir}/0.vhd`, base)
    paths.push(`${dir}/0.vhd`)
    for (let i = 1; i < count; i++) {
      await remote.write(`${dir}/${i}.vhd`, await vhd(i, { index: i - 1, path: `${i - 1}.vhd` }))
      paths.push(`${dir}/${i}.vhd`)
    }
    // Top first: the walk starts at the far end of the chain.
    const lineage = await readLineage(remote, paths.toReversed())
    assert.equal(lineage.size, count)
    assert.equal(
      [...lineage.values()].filter((d) => d.broken !== undefined).length,
      0,
      'every link checks out',
    )
    assert.equal(ancestorsOf(lineage, `${dir}/${count - 1}.vhd`).length, count - 1)
  })

  it('marks loops, missing parents and parent locators that leave the VM folder as broken', async () => {
    const remote = new MemoryRemote()
    const other = `xo-vm-backups/ffffffff-1111-4222-8333-444444444444/vdis/${IDS.job}/${IDS.vdiA}`
    await remote.write(`${other}/p.vhd`, await vhd(9))
    const disks: [string, Uint8Array][] = [
      ['a.vhd', await vhd(1, { index: 2, path: 'b.vhd' })],
      ['b.vhd', await vhd(2, { index: 1, path: 'a.vhd' })],
      ['orphan.vhd', await vhd(3, { index: 4, path: 'gone.vhd' })],
      [
        'escape.vhd',
        await vhd(5, {
          index: 9,
          path: `../../../../ffffffff-1111-4222-8333-444444444444/vdis/${IDS.job}/${IDS.vdiA}/p.vhd`,
        }),
      ],
      ['absolute.vhd', await vhd(6, { index: 9, path: `/${other}/p.vhd` })],
      ['child.vhd', await vhd(7, { index: 5, path: 'escape.vhd' })],
    ]
    for (const [name, bytes] of disks) await remote.write(`${dir}/${name}`, bytes)
    const lineage = await readLineage(
      remote,
      disks.map(([name]) => `${dir}/${name}`),
    )
    const broken = (name: string): string => lineage.get(`${dir}/${name}`)?.broken ?? 'ok'
    assert.match(broken('a.vhd'), /loops/)
    assert.match(broken('b.vhd'), /loops/)
    assert.match(broken('orphan.vhd'), /parent .*gone\.vhd is missing/)
    assert.match(broken('escape.vhd'), /resolves outside "xo-vm-backups\/0f5d2a3c/)
    assert.match(broken('absolute.vhd'), /absolute/)
    assert.match(broken('child.vhd'), /parent .*escape\.vhd is unusable/)
    assert.equal(lineage.has(`${other}/p.vhd`), false, 'nothing outside the VM folder is linked')
  })
})
