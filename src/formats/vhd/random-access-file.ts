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
  close?(): Promise<void>
}

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
}

/** A local file opened read-only or read-write through a FileHandle. */
export class LocalFile implements RandomAccessFile {
  readonly name: string
  readonly #handle: FileHandle

  private constructor(name: string, handle: FileHandle) {
    this.name = name
    this.#handle = handle
  }

  /** Opens `path`; `writable` opens read-write (the file must exist), `create` creates/truncates it. */
  static async open(path: string, mode: 'read' | 'write' | 'create' = 'read'): Promise<LocalFile> {
    const flags = mode === 'read' ? 'r' : mode === 'write' ? 'r+' : 'w+'
    return new LocalFile(path, await open(path, flags))
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.allocUnsafe(length)
    const done = await this.readInto(offset, buffer)
    return new Uint8Array(buffer.buffer, buffer.byteOffset, done)
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    let done = 0
    while (done < target.length) {
      const { bytesRead } = await this.#handle.read(target, done, target.length - done, offset + done)
      if (bytesRead === 0) break
      done += bytesRead
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

  async close(): Promise<void> {
    await this.#handle.close()
  }
}
