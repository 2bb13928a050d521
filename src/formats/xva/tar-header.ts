import { XvaError } from './xva-error.ts'

/** Size of a tar block; headers and padded entry data are made of them. */
export const TAR_BLOCK = 512

/** The tar entry kinds an XVA reader meets. */
export type TarEntryType = 'file' | 'directory' | 'pax' | 'gnu-long-name' | 'other'

/** A decoded tar header. */
export interface TarHeader {
  readonly name: string
  readonly sizeBytes: number
  readonly type: TarEntryType
  readonly mode: number
  readonly mtimeSeconds: number
}

const FIELD = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  type: [156, 1],
  magic: [257, 6],
  version: [263, 2],
  prefix: [345, 155],
} as const

function readString(block: Uint8Array, [offset, length]: readonly [number, number]): string {
  const field = block.subarray(offset, offset + length)
  const end = field.indexOf(0)
  return Buffer.from(field.subarray(0, end < 0 ? length : end)).toString('utf8')
}

function readNumber(block: Uint8Array, field: readonly [number, number], name: string, at: number): number {
  const [offset, length] = field
  const first = block[offset] ?? 0
  if ((first & 0x80) !== 0) {
    // GNU base-256 for sizes of 8 GiB and more: big-endian, high bit of the first byte set.
    let value = first & 0x7f
    for (let i = 1; i < length; i++) value = value * 256 + (block[offset + i] ?? 0)
    if (!Number.isSafeInteger(value))
      throw new XvaError(
        'XVA_TAR_INVALID',
        `tar header at ${at}, ${name}`,
        'a safe integer',
        'a larger base-256 value',
      )
    return value
  }
  const text = readString(block, field).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text))
    throw new XvaError(
      'XVA_TAR_INVALID',
      `tar header at ${at}, ${name}`,
      'octal digits',
      JSON.stringify(text),
    )
  return parseInt(text, 8)
}

function checksumOf(block: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < TAR_BLOCK; i++) {
    sum += i >= FIELD.checksum[0] && i < FIELD.checksum[0] + FIELD.checksum[1] ? 0x20 : (block[i] ?? 0)
  }
  return sum
}

/** True for the all-zero block that (twice) ends an archive. */
export function isZeroBlock(block: Uint8Array): boolean {
  return block.every((b) => b === 0)
}

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '': 'file',
  '5': 'directory',
  x: 'pax',
  g: 'pax',
  L: 'gnu-long-name',
}

/** Decodes a 512-byte header at stream offset `at`; throws XVA_TAR_INVALID on a bad checksum or field. */
export function decodeTarHeader(block: Uint8Array, at: number): TarHeader {
  const stored = readNumber(block, FIELD.checksum, 'checksum', at)
  const computed = checksumOf(block)
  if (stored !== computed) {
    throw new XvaError('XVA_TAR_INVALID', `tar header at ${at}, checksum`, String(computed), String(stored))
  }
  const magic = readString(block, FIELD.magic)
  // POSIX ustar ("ustar\0") has a name prefix field; GNU ("ustar  ") uses that area for other things.
  const prefix = magic === 'ustar' ? readString(block, FIELD.prefix) : ''
  const name = readString(block, FIELD.name)
  const typeFlag = String.fromCharCode(block[FIELD.type[0]] ?? 0)
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    sizeBytes: readNumber(block, FIELD.size, 'size', at),
    type: TYPES[typeFlag] ?? 'other',
    mode: readNumber(block, FIELD.mode, 'mode', at),
    mtimeSeconds: readNumber(block, FIELD.mtime, 'mtime', at),
  }
}

function writeOctal(block: Uint8Array, [offset, length]: readonly [number, number], value: number): void {
  const text = value.toString(8).padStart(length - 1, '0')
  if (text.length > length - 1) throw new RangeError(`tar field of ${length} bytes cannot hold ${value}`)
  block.set(Buffer.from(text, 'ascii'), offset)
}

function writeSize(block: Uint8Array, value: number): void {
  const [offset, length] = FIELD.size
  if (value < 8 ** (length - 1)) {
    writeOctal(block, FIELD.size, value)
    return
  }
  // Base-256 (GNU) beyond 8 GiB, which ustar's 11 octal digits cannot express.
  let rest = value
  for (let i = length - 1; i > 0; i--) {
    block[offset + i] = rest % 256
    rest = Math.floor(rest / 256)
  }
  block[offset] = 0x80
}

/** Encodes a ustar header for a regular file (mode 0o400, uid/gid 0, as XAPI writes them). */
export function encodeTarHeader(name: string, sizeBytes: number, mtimeSeconds = 0): Uint8Array {
  const encodedName = Buffer.from(name, 'utf8')
  if (encodedName.length > FIELD.name[1])
    throw new RangeError(`tar entry name longer than 100 bytes: ${name}`)
  const block = new Uint8Array(TAR_BLOCK)
  block.set(encodedName, 0)
  writeOctal(block, FIELD.mode, 0o400)
  writeOctal(block, FIELD.uid, 0)
  writeOctal(block, FIELD.gid, 0)
  writeSize(block, sizeBytes)
  writeOctal(block, FIELD.mtime, Math.floor(mtimeSeconds))
  block[FIELD.type[0]] = 0x30 // '0': regular file
  block.set(Buffer.from('ustar\u000000', 'latin1'), FIELD.magic[0])
  const checksum = checksumOf(block)
  block.set(Buffer.from(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 'latin1'), FIELD.checksum[0])
  return block
}

/** Bytes of padding after `sizeBytes` of entry data, up to the next block boundary. */
export function tarPadding(sizeBytes: number): number {
  return (TAR_BLOCK - (sizeBytes % TAR_BLOCK)) % TAR_BLOCK
}
