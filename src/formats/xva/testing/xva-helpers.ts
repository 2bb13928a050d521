import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkChecksum } from '../chunk-checksum.ts'
import type { OvaDocument } from '../ova-xml.ts'
import { encodeOvaXml } from '../ova-xml.ts'
import { encodeTarHeader, TAR_BLOCK, tarPadding } from '../tar-header.ts'
import { readTarEntries } from '../tar-reader.ts'
import type { XvaDisk } from '../xva-reader.ts'

/** Yields `bytes` in slices of `size` (as a network stream would deliver them). */
export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield await Promise.resolve(bytes.subarray(i, i + size))
}

/** The raw content of a disk read from an XVA (absent chunks are zeros). */
export async function materialise(disk: XvaDisk): Promise<Uint8Array> {
  const raw = new Uint8Array(disk.virtualSize)
  for await (const block of disk.blocks()) raw.set(block.data, block.index * disk.blockSize)
  return raw
}

/** The entry names of a tar stream, in order. */
export async function entryNames(stream: AsyncIterable<Uint8Array>): Promise<string[]> {
  const names: string[] = []
  for await (const entry of readTarEntries(stream)) names.push(entry.name)
  return names
}

/** Writes ova.xml and the disk's non-zero (plus first and last) 1 MiB chunks with SHA-1 `.checksum` files under `dir`. */
export async function explode(ova: OvaDocument, id: string, raw: Uint8Array, dir: string): Promise<void> {
  await mkdir(join(dir, id), { recursive: true })
  await writeFile(join(dir, 'ova.xml'), encodeOvaXml(ova))
  const chunks = Math.ceil(raw.length / (1024 * 1024))
  for (let i = 0; i < chunks; i++) {
    const data = raw.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024)
    if (i !== 0 && i !== chunks - 1 && data.every((b) => b === 0)) continue
    const name = String(i).padStart(8, '0')
    await writeFile(join(dir, id, name), data)
    await writeFile(join(dir, id, `${name}.checksum`), chunkChecksum('sha1', data))
  }
}

/** A chunk entry and its `.xxhash` entry. */
export function chunkEntries(id: string, index: number, data: Uint8Array): [string, Uint8Array][] {
  const name = `${id}/${String(index).padStart(8, '0')}`
  return [
    [name, data],
    [`${name}.xxhash`, Buffer.from(chunkChecksum('xxhash', data))],
  ]
}

/** A tar archive of the given entries, with its end-of-archive blocks. */
export function tar(entries: readonly [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const [name, data] of entries)
    parts.push(encodeTarHeader(name, data.length), data, new Uint8Array(tarPadding(data.length)))
  parts.push(new Uint8Array(2 * TAR_BLOCK))
  return Buffer.concat(parts)
}

/** Offset of the data of entry `name` in an uncompressed tar (headers are walked, not searched). */
export function dataOffsetOf(bytes: Uint8Array, name: string): number {
  let offset = 0
  while (offset + TAR_BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + TAR_BLOCK)
    const entryName = Buffer.from(header.subarray(0, 100)).toString('utf8').replace(/\0.*$/s, '')
    const size = parseInt(
      Buffer.from(header.subarray(124, 136)).toString('ascii').replace(/\0.*$/s, '').trim() || '0',
      8,
    )
    if (entryName === name) return offset + TAR_BLOCK
    offset += TAR_BLOCK + size + tarPadding(size)
  }
  throw new Error(`no entry ${name}`)
}

/** The document as a reader sees it: integers (written untyped, as XAPI does) come back as strings. */
export function integersAsStrings<T>(value: T): T {
  if (typeof value === 'number') return String(value) as T
  if (Array.isArray(value)) return value.map(integersAsStrings) as T
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, integersAsStrings(v)])) as T
  }
  return value
}
