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
    try {
      let position = 0
      for await (const chunk of chunks) {
        options.signal?.throwIfAborted()
        await writeFully(handle, chunk, position)
        position += chunk.byteLength
      }
      await handle.sync()
    } finally {
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
