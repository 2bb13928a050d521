import { ByteCursor } from '../../shared/byte-cursor.ts'
import type { TarEntryType } from './tar-header.ts'
import { decodeTarHeader, isZeroBlock, TAR_BLOCK, tarPadding } from './tar-header.ts'
import { XvaError } from './xva-error.ts'

/** A regular file of a tar stream with its whole content (entries are bounded by `maxEntryBytes`). */
export interface TarEntry {
  readonly name: string
  readonly data: Uint8Array
  /** Stream offset of the entry's header, for error messages. */
  readonly offset: number
}

/** Options of readTarEntries. */
export interface TarReadOptions {
  /** Largest entry accepted in memory (default 64 MiB); bigger ones fail with XVA_ENTRY_TOO_LARGE. */
  readonly maxEntryBytes?: number
  /** Name of the stream in errors. */
  readonly what?: string
}

function parsePax(data: Uint8Array, at: number, what: string): Map<string, string> {
  const records = new Map<string, string>()
  const text = Buffer.from(data).toString('utf8')
  let i = 0
  while (i < text.length) {
    const space = text.indexOf(' ', i)
    const length = Number(text.slice(i, space))
    if (space < 0 || !Number.isInteger(length) || length <= 0 || i + length > text.length) {
      throw new XvaError(
        'XVA_TAR_INVALID',
        `${what}: pax header at ${at}`,
        'records "<length> key=value\\n"',
        JSON.stringify(text.slice(i, i + 30)),
      )
    }
    const record = text.slice(space + 1, i + length - 1)
    const eq = record.indexOf('=')
    records.set(record.slice(0, eq), record.slice(eq + 1))
    i += length
  }
  return records
}

async function readExactly(
  cursor: ByteCursor,
  length: number,
  what: string,
  field: string,
): Promise<Uint8Array> {
  const at = cursor.position
  const data = await cursor.read(length)
  if (data.length !== length) {
    throw new XvaError(
      'XVA_TRUNCATED',
      `${what}: ${field} at ${at}`,
      `${length} bytes`,
      `${data.length} before the end of the stream`,
    )
  }
  return data
}

/**
 * Reads the regular files of a tar stream in order, each with its content, holding one entry in
 * memory at a time. Directories are skipped; pax `path`/`size` and GNU long names are honoured.
 * A stream that ends before the end-of-archive blocks throws XVA_TRUNCATED: a cut stream must
 * never look complete.
 */
export async function* readTarEntries(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: TarReadOptions = {},
): AsyncGenerator<TarEntry> {
  const { maxEntryBytes = 64 * 1024 * 1024, what = 'tar stream' } = options
  const cursor = new ByteCursor(source)
  let override: { name?: string; sizeBytes?: number } = {}
  try {
    for (;;) {
      const offset = cursor.position
      const block = await cursor.read(TAR_BLOCK)
      if (block.length === 0)
        throw new XvaError(
          'XVA_TRUNCATED',
          `${what} at ${offset}`,
          'a tar header or the end-of-archive blocks',
          'the end of the stream',
        )
      if (block.length < TAR_BLOCK)
        throw new XvaError(
          'XVA_TRUNCATED',
          `${what}: tar header at ${offset}`,
          `${TAR_BLOCK} bytes`,
          `${block.length}`,
        )
      if (isZeroBlock(block)) {
        // The end is two zero blocks; a stream cut between them must not pass for complete.
        const second = await cursor.read(TAR_BLOCK)
        if (second.length < TAR_BLOCK) {
          throw new XvaError(
            'XVA_TRUNCATED',
            `${what}: end-of-archive at ${offset}`,
            'two zero blocks',
            `${TAR_BLOCK + second.length} bytes`,
          )
        }
        if (!isZeroBlock(second)) {
          throw new XvaError(
            'XVA_TAR_INVALID',
            `${what}: end-of-archive at ${offset}`,
            'two zero blocks',
            'a zero block followed by data',
          )
        }
        return
      }
      const header = decodeTarHeader(block, offset)
      const sizeBytes = override.sizeBytes ?? header.sizeBytes
      const name = override.name ?? header.name
      override = {}
      const type: TarEntryType = header.type
      if (type === 'directory' || type === 'other') {
        if (type === 'other' || sizeBytes > 0) await skipData(cursor, sizeBytes, what, name)
        continue
      }
      if (sizeBytes > maxEntryBytes) {
        throw new XvaError(
          'XVA_ENTRY_TOO_LARGE',
          `${what}: entry ${JSON.stringify(name)} at ${offset}`,
          `at most ${maxEntryBytes} bytes`,
          `${sizeBytes}`,
        )
      }
      const data = await readExactly(cursor, sizeBytes, what, `data of ${JSON.stringify(name)}`)
      await readExactly(cursor, tarPadding(sizeBytes), what, `padding of ${JSON.stringify(name)}`)
      if (type === 'pax') {
        const pax = parsePax(data, offset, what)
        const path = pax.get('path')
        const size = pax.get('size')
        override = {
          ...(path === undefined ? {} : { name: path }),
          ...(size === undefined ? {} : { sizeBytes: Number(size) }),
        }
      } else if (type === 'gnu-long-name') {
        override = { name: Buffer.from(data).toString('utf8').replace(/\0+$/, '') }
      } else {
        yield { name, data, offset }
      }
    }
  } finally {
    await cursor.close()
  }
}

async function skipData(cursor: ByteCursor, sizeBytes: number, what: string, name: string): Promise<void> {
  const total = sizeBytes + tarPadding(sizeBytes)
  const at = cursor.position
  const skipped = await cursor.skip(total)
  if (skipped !== total)
    throw new XvaError(
      'XVA_TRUNCATED',
      `${what}: data of ${JSON.stringify(name)} at ${at}`,
      `${total} bytes`,
      `${skipped}`,
    )
}
