// The damaged-file corpus (issue 3): built here from a sound file by truncating at every structure
// boundary, flipping bits in every footer/header field and corrupting BAT entries; `check` and
// `open` must name the damage precisely and never hang (the test timeout is the bound).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { viewOf, computeChecksum } from './codec-utils.ts'
import { writeVhdStream } from './conversions.ts'
import { BufferFile } from './random-access-file.ts'
import {
  applyExtents,
  bufferBlockSource,
  collect,
  createRandom,
  randomExtents,
} from './testing/random-disk.ts'
import { VhdChain } from './vhd-chain.ts'
import { checkVhd } from './vhd-check.ts'
import type { VhdIssue } from './vhd-error.ts'
import { VhdError } from './vhd-error.ts'
import { VhdFile } from './vhd-file.ts'
import { parseVhdStream } from './vhd-stream-parser.ts'
import { planVhdStream } from './vhd-stream-writer.ts'

const blockSize = 64 * 1024
const BLOCK = 512 + blockSize
const FIRST_BLOCK = 2048 // footer copy 512 + header 1024 + BAT 512

async function soundFile(parent?: { uniqueId: string; relativePath: string }): Promise<Uint8Array> {
  const random = createRandom(1)
  const disk = applyExtents(
    random,
    new Uint8Array(5 * blockSize),
    randomExtents(random, 5 * blockSize, 6, blockSize),
  )
  const file = new BufferFile()
  const options = {
    uniqueId: crypto.randomUUID(),
    timestampMs: 0,
    ...(parent === undefined ? {} : { parent }),
  }
  await writeVhdStream(planVhdStream(bufferBlockSource(disk, blockSize, [0, 2, 3]), options), file)
  return file.bytes.slice()
}

async function judge(bytes: Uint8Array): Promise<{ issues: VhdIssue[]; openError: unknown }> {
  const file = new BufferFile(bytes, 'damaged.vhd')
  const issues = await checkVhd('damaged.vhd', () => Promise.resolve(file))
  const openError = await VhdFile.open(file).then(
    () => undefined,
    (error: unknown) => error,
  )
  return { issues, openError }
}

function assertPrecise(issues: VhdIssue[], openError: unknown, what: string, field?: RegExp): void {
  assert.ok(issues.length > 0, `${what}: check found nothing`)
  assert.ok(openError instanceof VhdError, `${what}: open did not throw a VhdError (${String(openError)})`)
  for (const found of [...issues, openError.issue]) {
    assert.ok(
      found.field !== '' && found.expected !== '' && found.got !== '' && Number.isFinite(found.offset),
      `${what}: vague ${JSON.stringify(found)}`,
    )
  }
  if (field !== undefined)
    assert.ok(
      issues.some((i) => field.test(i.field)),
      `${what}: no issue on ${field} in ${JSON.stringify(issues)}`,
    )
}

function flip(bytes: Uint8Array, offset: number, bit = 0): Uint8Array {
  const copy = bytes.slice()
  copy[offset] = (copy[offset] ?? 0) ^ (1 << bit)
  return copy
}

function withChecksum(bytes: Uint8Array, start: number, length: number, checksumAt: number): Uint8Array {
  const structure = bytes.subarray(start, start + length)
  viewOf(structure).setUint32(checksumAt, computeChecksum(structure, checksumAt))
  return bytes
}

describe('VHD check on a damaged corpus', { timeout: 60_000 }, () => {
  it('accepts the sound file', async () => {
    const { issues, openError } = await judge(await soundFile())
    assert.deepEqual(issues, [])
    assert.equal(openError, undefined)
  })

  it('names truncation at every structure boundary', async () => {
    const sound = await soundFile()
    const cuts = [
      0,
      1,
      511,
      512,
      513,
      1024,
      1536,
      FIRST_BLOCK - 1,
      FIRST_BLOCK,
      FIRST_BLOCK + 512,
      FIRST_BLOCK + BLOCK - 1,
    ]
    for (let k = 1; k <= 3; k++) cuts.push(FIRST_BLOCK + k * BLOCK - 512, FIRST_BLOCK + k * BLOCK)
    cuts.push(sound.length - 512, sound.length - 1)
    for (const cut of cuts) {
      const bytes = sound.slice(0, cut)
      const { issues, openError } = await judge(bytes)
      assertPrecise(issues, openError, `cut at ${cut}`)
      await assert.rejects(
        collect(
          (async function* () {
            for await (const b of (await parseVhdStream([bytes])).blocks()) yield b.data
          })(),
        ),
        VhdError,
        `stream cut at ${cut}`,
      )
    }
  })

  it('detects a bit flip in every byte of the footers and the header', async () => {
    const sound = await soundFile()
    const eof = sound.length - 512
    const regions: [string, number, number][] = [
      ['footer copy', 0, 512],
      ['header', 512, 1024],
      ['footer', eof, 512],
    ]
    for (const [name, start, length] of regions) {
      // Reserved bytes beyond the used fields are covered by the checksum like any other.
      for (let offset = start; offset < start + length; offset += name === 'header' ? 3 : 1) {
        const { issues, openError } = await judge(flip(sound, offset, offset % 8))
        assertPrecise(issues, openError, `${name} flip at ${offset}`)
        assert.ok(
          issues.some((i) => i.offset >= start && i.offset < start + length),
          `${name} flip at ${offset}: issue outside the structure ${JSON.stringify(issues[0])}`,
        )
      }
    }
  })

  it('names the field when a flipped field carries a recomputed checksum', async () => {
    const sound = await soundFile()
    const eof = sound.length - 512
    const footerFields: [number, RegExp][] = [
      [0, /cookie/],
      [12, /fileFormatVersion/],
      [16, /dataOffset/],
      [48, /currentSize/],
      [63, /diskType/],
    ]
    for (const [at, field] of footerFields) {
      const bytes = flip(sound, eof + at, 6)
      withChecksum(bytes.subarray(eof), 0, 512, 64)
      const { issues, openError } = await judge(bytes)
      assertPrecise(issues, openError, `footer field at ${at}`, field)
    }
    const headerFields: [number, RegExp][] = [
      [512, /cookie/],
      [512 + 16, /tableOffset/],
      [512 + 22, /tableOffset|bat\[/],
      [512 + 30, /maxTableEntries|bat\[|BAT/],
      [512 + 34, /blockSize/],
      [512 + 25, /headerVersion/],
    ]
    for (const [at, field] of headerFields) {
      const bytes = withChecksum(flip(sound, at, 1), 512, 1024, 36)
      const { issues, openError } = await judge(bytes)
      assertPrecise(issues, openError, `header byte ${at}`, field)
    }
  })

  it('reports BAT entries overlapping, in the metadata, past the end or looping onto one block', async () => {
    const sound = await soundFile()
    const setEntry = (index: number, value: number): Uint8Array => {
      const bytes = sound.slice()
      viewOf(bytes).setUint32(1536 + index * 4, value)
      return bytes
    }
    const cases: [string, Uint8Array, RegExp][] = [
      ['two entries on one block', setEntry(2, FIRST_BLOCK / 512), /bat\[2\]/],
      ['overlapping blocks', setEntry(2, FIRST_BLOCK / 512 + 1), /bat\[2\]/],
      ['block over the header', setEntry(0, 1), /bat\[0\]/],
      ['block over the BAT', setEntry(4, 3), /bat\[4\]/],
      ['block past the end', setEntry(1, 0xfffffff0), /bat\[1\]/],
      ['block crossing the EOF footer', setEntry(1, (sound.length - 1024) / 512), /bat\[1\]/],
    ]
    for (const [what, bytes, field] of cases) {
      const { issues, openError } = await judge(bytes)
      assertPrecise(issues, openError, what, field)
    }
  })

  it('refuses an absurd BAT size without allocating it, and survives random garbage', async () => {
    const sound = await soundFile()
    const bytes = sound.slice()
    viewOf(bytes).setUint32(512 + 28, 0xfffffff0)
    withChecksum(bytes, 512, 1024, 36)
    const { issues, openError } = await judge(bytes)
    assertPrecise(issues, openError, 'huge maxTableEntries', /maxTableEntries/)
    const random = createRandom(99)
    for (let k = 0; k < 30; k++) {
      const garbage = new Uint8Array(Math.floor(random() * 8192))
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256)
      // Half of them keep a sound footer so the reader gets further in.
      if (k % 2 === 0 && garbage.length > 4096)
        garbage.set(sound.subarray(sound.length - 512), garbage.length - 512)
      const judged = await judge(garbage)
      assertPrecise(judged.issues, judged.openError, `garbage ${k}`)
    }
  })

  it('checks parent links: a UUID mismatch, a missing parent and a parent loop', async () => {
    const parent = await soundFile()
    const child = await soundFile({ uniqueId: crypto.randomUUID(), relativePath: 'parent.vhd' })
    const files = new Map([
      ['dir/parent.vhd', parent],
      ['dir/child.vhd', child],
    ])
    const opener = (path: string) => {
      const bytes = files.get(path)
      return bytes === undefined
        ? Promise.reject(new Error(`ENOENT ${path}`))
        : Promise.resolve(new BufferFile(bytes, path))
    }
    const mismatch = await checkVhd('dir/child.vhd', opener, { chain: true })
    assert.equal(mismatch[0]?.code, 'VHD_PARENT_MISMATCH')
    assert.equal(mismatch.at(0)?.field, 'header.parentUniqueId')
    files.delete('dir/parent.vhd')
    assert.equal((await checkVhd('dir/child.vhd', opener, { chain: true }))[0]?.code, 'VHD_PARENT_MISSING')
    const self = await VhdFile.open(new BufferFile(child))
    const loop = await soundFile({ uniqueId: self.uniqueId, relativePath: 'loop.vhd' })
    loop.set(child.subarray(68, 84), 68)
    withChecksum(loop, 0, 512, 64)
    loop.set(loop.subarray(0, 512), loop.length - 512)
    files.set('dir/loop.vhd', loop)
    const error = await VhdChain.open('dir/loop.vhd', opener).catch((e: unknown) => e)
    assert.ok(error instanceof VhdError, 'error instanceof VhdError')
    assert.equal(error.issue.field, 'parent chain')
  })
})
