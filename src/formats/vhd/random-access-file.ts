import type { BigIntStats } from 'node:fs'
import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { open } from 'node:fs/promises'

/**
 * The port every VHD reader and writer does its I/O through, so a local file, a buffer or a
 * remote range reader (S3 later) can back it: `read` returns up to `length` bytes (fewer only at
 * end of file), `write` (when present) writes all of `data` at `offset`, growing the file.
 */
export interface RandomAccessFile {
  /** A name for messages (a path or a label). */
  readonly name: string
  read(offset: number, length: number): Promise<Uint8Array>
  /** Reads into `target` (up to its length, fewer only at end of file) and returns the bytes read: no allocation. */
  readInto?(offset: number, target: Uint8Array): Promise<number>
  size(): Promise<number>
  write?(offset: number, data: Uint8Array): Promise<void>
  /** Makes the written data durable (fdatasync for a local file). */
  sync?(): Promise<void>
  /** Sets the file's length (zeros past the old end: holes where the file system has them). */
  truncate?(size: number): Promise<void>
  close?(): Promise<void>
}

/** A file the converters write: positional writes, a length to set, fdatasync. */
export type WritableFile = RandomAccessFile & Required<Pick<RandomAccessFile, 'write' | 'truncate' | 'sync'>>

/** An in-memory file: reads and writes a growable buffer (tests, small VHDs built in memory). */
export class BufferFile implements RandomAccessFile {
  readonly name: string
  #bytes: Uint8Array
  #length: number

  constructor(bytes: Uint8Array = new Uint8Array(0), name = 'buffer') {
    this.name = name
    this.#bytes = bytes
    this.#length = bytes.length
  }

  /** The file's current content (a view, not a copy). */
  get bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length)
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const start = Math.min(offset, this.#length)
    return Promise.resolve(this.#bytes.slice(start, Math.min(this.#length, offset + length)))
  }

  readInto(offset: number, target: Uint8Array): Promise<number> {
    const chunk = this.#bytes.subarray(
      Math.min(offset, this.#length),
      Math.min(this.#length, offset + target.length),
    )
    target.set(chunk)
    return Promise.resolve(chunk.length)
  }

  size(): Promise<number> {
    return Promise.resolve(this.#length)
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    const end = offset + data.length
    if (end > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.#bytes.length * 2))
      grown.set(this.#bytes.subarray(0, this.#length))
      this.#bytes = grown
    }
    this.#bytes.set(data, offset)
    this.#length = Math.max(this.#length, end)
    return Promise.resolve()
  }

  /** Nothing to make durable in memory. */
  sync(): Promise<void> {
    return Promise.resolve()
  }

  truncate(size: number): Promise<void> {
    if (size > this.#bytes.length) {
      const grown = new Uint8Array(size)
      grown.set(this.#bytes.subarray(0, this.#length))
      this.#bytes = grown
    } else this.#bytes.fill(0, size)
    this.#length = size
    return Promise.resolve()
  }
}

/**
 * A zeroed buffer of `size` bytes that starts on a page boundary, for block reads and writes.
 * Why: Node's large buffers come from malloc at a page + 16 bytes, and a kernel copy from the page
 * cache into a destination just past a page boundary is 3–5× slower on the AMD hosts we measured
 * (2 MiB reads of a cached file into page + 16 against page + 0 or page + 512: 4K aliasing of the
 * copy's loads and stores). WebAssembly memory is page-aligned by construction; without
 * WebAssembly (`--jitless`) a plain buffer is returned.
 */
export function pageAlignedBuffer(size: number): Uint8Array {
  const WASM_PAGE = 65536
  // Node's type definitions leave WebAssembly out; this is the one constructor used here.
  const wasm = (globalThis as { WebAssembly?: { Memory: WasmMemory } }).WebAssembly
  if (wasm === undefined || size > 2 ** 31) return new Uint8Array(size)
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(size / WASM_PAGE)) })
  return new Uint8Array(memory.buffer, 0, size)
}

type WasmMemory = new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer }

/**
 * How LocalFile.open opens: read-only, read-only with O_DIRECT (page-aligned buffers, offsets and
 * lengths only; see LocalFile.open), read-write (existing file), create/truncate, or create only.
 */
export type LocalFileMode = 'read' | 'read-direct' | 'write' | 'create' | 'create-new'

// Reading opens with O_NONBLOCK: no effect on a regular file, but a FIFO named as a VHD or a raw
// image then opens at once (and is refused by its type) instead of blocking until a writer comes.
// Undefined off Linux: a direct open then fails with EINVAL, as on a file system without O_DIRECT.
const DIRECT = constants.O_DIRECT as number | undefined
const FLAGS: Record<LocalFileMode, string | number> = {
  read: constants.O_RDONLY | constants.O_NONBLOCK,
  'read-direct': constants.O_RDONLY | constants.O_NONBLOCK | (DIRECT ?? 0),
  write: 'r+',
  create: 'w+',
  'create-new': 'wx+',
}

/** A local file opened read-only or read-write through a FileHandle. */
export class LocalFile implements RandomAccessFile {
  readonly name: string
  readonly #handle: FileHandle
  readonly #direct: boolean

  private constructor(name: string, handle: FileHandle, direct: boolean) {
    this.name = name
    this.#handle = handle
    this.#direct = direct
  }

  /**
   * Opens `path`: `write` read-write (the file must exist), `create` creates or truncates it,
   * `create-new` creates it and fails with EEXIST when something is already there (never truncates).
   * `read-direct` bypasses the page cache (a hole then costs a memset, not a page-cache page); its
   * reads need 4 KiB-aligned buffers, offsets and lengths, and one short read means end of file.
   * It fails (EINVAL) where the file system or the platform has no O_DIRECT.
   */
  static async open(path: string, mode: LocalFileMode = 'read'): Promise<LocalFile> {
    if (mode === 'read-direct' && DIRECT === undefined)
      throw Object.assign(new Error(`EINVAL: no O_DIRECT on this platform, open '${path}'`), {
        code: 'EINVAL',
      })
    return new LocalFile(path, await open(path, FLAGS[mode]), mode === 'read-direct')
  }

  /** The open file's status (device and inode as bigints: the identity of the file, whatever its name). */
  async stat(): Promise<BigIntStats> {
    return this.#handle.stat({ bigint: true })
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.allocUnsafe(length)
    const done = await this.readInto(offset, buffer)
    return new Uint8Array(buffer.buffer, buffer.byteOffset, done)
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    let done = 0
    while (done < target.length) {
      const wanted = target.length - done
      const { bytesRead } = await this.#handle.read(target, done, wanted, offset + done)
      done += bytesRead
      // A direct read continued after a short one would start unaligned (EINVAL): short is the end.
      if (bytesRead === 0 || (this.#direct && bytesRead < wanted)) break
    }
    return done
  }

  async size(): Promise<number> {
    return (await this.#handle.stat()).size
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    let done = 0
    while (done < data.length) {
      const { bytesWritten } = await this.#handle.write(data, done, data.length - done, offset + done)
      done += bytesWritten
    }
  }

  async sync(): Promise<void> {
    await this.#handle.datasync()
  }

  async truncate(size: number): Promise<void> {
    await this.#handle.truncate(size)
  }

  async close(): Promise<void> {
    await this.#handle.close()
  }
}
