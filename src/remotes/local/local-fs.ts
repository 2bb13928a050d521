import { link, mkdir, open, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { errorCode } from '../../shared/errors.ts'

/** Fsyncs a directory so a rename or link inside it survives a crash (POSIX needs this separately). */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes every byte of `chunk` at `position`, looping on short writes. */
async function writeFully(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done, position + done)
    done += bytesWritten
  }
}

/**
 * Bytes written between two write-behind flushes. Without them a file's dirty pages pile up in the
 * page cache (Linux starts writing back only at 10% of RAM or after 30 s) and the final fsync then
 * writes the whole file while nothing else happens: the transfer and the disk take turns. A flush
 * every few MiB, run while the next chunks arrive, lets the disk work during the transfer and bounds
 * the dirty pages a backup leaves to the rest of the host.
 */
export const WRITE_BEHIND_BYTES = 32 * 2 ** 20

/**
 * Flushes a file being written in the background: `wrote` starts an fdatasync once
 * WRITE_BEHIND_BYTES were written since the last one, never two at a time (a slow disk then simply
 * gets fewer, larger flushes); `settle` waits for the one in flight and rethrows its error.
 */
export class WriteBehind {
  #sinceFlush = 0
  #inFlight: Promise<void> | undefined
  #error: unknown
  #failed = false

  constructor(private readonly handle: Pick<FileHandle, 'datasync'>) {}

  wrote(bytes: number): void {
    if (this.#failed) throw this.#error
    this.#sinceFlush += bytes
    if (this.#sinceFlush < WRITE_BEHIND_BYTES || this.#inFlight !== undefined) return
    this.#sinceFlush = 0
    this.#inFlight = this.handle.datasync().then(
      () => {
        this.#inFlight = undefined
      },
      (error: unknown) => {
        this.#inFlight = undefined
        this.#failed = true
        this.#error = error
      },
    )
  }

  async settle(): Promise<void> {
    await this.#inFlight
    if (this.#failed) throw this.#error
  }
}

/** Size of the buffer that gathers small chunks into one write (one per file being written). */
const STAGING_BYTES = 1024 * 1024

/**
 * Gathers small chunks into one buffer, copied (a source may reuse a chunk's memory once the next
 * one is asked for), so that a file arriving in 64 KiB pieces costs a sixteenth of the writes.
 */
class Staging {
  #buffer: Buffer | undefined
  length = 0

  fits(chunk: Uint8Array): boolean {
    return this.length + chunk.byteLength <= STAGING_BYTES
  }

  add(chunk: Uint8Array): void {
    this.#buffer ??= Buffer.allocUnsafe(STAGING_BYTES)
    this.#buffer.set(chunk, this.length)
    this.length += chunk.byteLength
  }

  /** The gathered bytes, valid until the next add (the caller writes them before that). */
  take(): Uint8Array {
    const bytes = this.#buffer?.subarray(0, this.length) ?? new Uint8Array(0)
    this.length = 0
    return bytes
  }
}

/** The temp name of a write in progress: hidden, in the target's directory, unique. */
export function tempNameFor(absolute: string): string {
  return join(dirname(absolute), `.${basename(absolute)}.${randomBytes(6).toString('hex')}.tmp`)
}

/**
 * Publishes `chunks` at `absolute` atomically: writes a temp file in the same directory, fsyncs it,
 * then renames it over the target (or hard-links it when `ifAbsent`, which fails with EEXIST if the
 * target exists), and fsyncs the directory. On any failure the temp file is removed, so the final
 * name only ever holds complete content.
 */
export async function publishFile(
  absolute: string,
  chunks: AsyncIterable<Uint8Array>,
  options: { ifAbsent: boolean; signal?: AbortSignal | undefined },
): Promise<void> {
  await mkdir(dirname(absolute), { recursive: true })
  const temp = tempNameFor(absolute)
  try {
    const handle = await open(temp, 'wx')
    const writeBehind = new WriteBehind(handle)
    try {
      let position = 0
      const write = async (bytes: Uint8Array): Promise<void> => {
        await writeFully(handle, bytes, position)
        position += bytes.byteLength
        writeBehind.wrote(bytes.byteLength)
      }
      const staging = new Staging()
      for await (const chunk of chunks) {
        options.signal?.throwIfAborted()
        // Small chunks (a socket's 64 KiB) are gathered into one write; big ones go as they are.
        if (chunk.byteLength >= STAGING_BYTES) {
          if (staging.length > 0) await write(staging.take())
          await write(chunk)
        } else {
          if (!staging.fits(chunk)) await write(staging.take())
          staging.add(chunk)
        }
      }
      if (staging.length > 0) await write(staging.take())
      await writeBehind.settle()
      await handle.sync()
    } finally {
      // A flush still running on a failed write must end before the handle closes under it.
      await writeBehind.settle().catch(() => undefined)
      await handle.close()
    }
    options.signal?.throwIfAborted()
    if (options.ifAbsent) {
      // link(2) is the atomic create-if-absent of a complete file (rename would replace).
      await link(temp, absolute)
      await unlink(temp)
    } else {
      await rename(temp, absolute)
    }
    await syncDirectory(dirname(absolute))
  } catch (error) {
    await removeIfPresent(temp)
    throw error
  }
}

/** Unlinks a file; a missing file is fine. */
export async function removeIfPresent(absolute: string): Promise<void> {
  try {
    await unlink(absolute)
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error
  }
}
