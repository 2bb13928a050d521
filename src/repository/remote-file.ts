import type { RandomAccessFile } from '../formats/vhd/random-access-file.ts'
import type { Remote, RemoteReader } from '../remotes/remote.ts'

/**
 * Bytes read at once from the start of a file on its first read there. A VHD's footer copy,
 * header and BAT sit at its start (a BAT of 256 KiB covers a 128 GiB disk): opening one then costs
 * two reads (this and the footer at the end) instead of four, which is what listing, checking and
 * merging a folder of VHDs mostly does (each read is a round trip on S3, several system calls here).
 */
export const HEAD_BYTES = 256 * 1024

/**
 * A read-only RandomAccessFile over a remote file, so VHD readers work on any remote (ranged reads
 * on S3, positioned reads on a filesystem). The size is read once, at open; the first read that
 * falls within the file's first HEAD_BYTES reads all of them and later reads within serve from it.
 * With `keepOpen` on a remote that has `openReader`, the file is held open and read in place
 * instead; the caller must then `close()` it.
 */
export async function openRemoteFile(
  remote: Remote,
  path: string,
  options: { readonly keepOpen?: boolean } = {},
): Promise<RandomAccessFile> {
  // Held open for positioned reads where the remote can (a restore reads every block of a chain):
  // the caller then closes the file. Without keepOpen nothing is held (callers that never close).
  if (options.keepOpen === true && remote.openReader !== undefined) return openHeld(remote, path)
  const { sizeBytes } = await remote.stat(path)
  const readRange = async (start: number, end: number): Promise<Uint8Array> => {
    const out = new Uint8Array(end - start)
    let at = 0
    for await (const chunk of await remote.read(path, { start, end })) {
      const bytes = chunk as Uint8Array
      // A file that grew since the stat: keep to the range asked for.
      const take = Math.min(bytes.byteLength, out.length - at)
      out.set(bytes.subarray(0, take), at)
      at += take
    }
    return at === out.length ? out : out.subarray(0, at)
  }
  const headEnd = Math.min(HEAD_BYTES, sizeBytes)
  let head: Promise<Uint8Array> | undefined
  return {
    name: path,
    size: () => Promise.resolve(sizeBytes),
    async read(offset, length) {
      const start = Math.min(offset, sizeBytes)
      const end = Math.min(sizeBytes, offset + length)
      if (end <= start) return new Uint8Array(0)
      if (end > headEnd) return readRange(start, end)
      // A failed read is not kept: the next read tries again.
      head ??= readRange(0, headEnd).catch((error: unknown) => {
        head = undefined
        throw error
      })
      // A copy: callers may keep or change what they get.
      return (await head).slice(start, end)
    },
  }
}

/** A RandomAccessFile over a file the remote holds open (Remote.openReader): positioned reads, no copy. */
async function openHeld(remote: Remote, path: string): Promise<RandomAccessFile> {
  const reader: RemoteReader = await (remote.openReader as (p: string) => Promise<RemoteReader>)(path)
  const { sizeBytes } = reader
  return {
    name: path,
    size: () => Promise.resolve(sizeBytes),
    async read(offset, length) {
      const start = Math.min(offset, sizeBytes)
      const target = new Uint8Array(Math.max(0, Math.min(sizeBytes, offset + length) - start))
      if (target.length === 0) return target
      return target.subarray(0, await reader.readInto(start, target))
    },
    async readInto(offset, target) {
      if (offset >= sizeBytes) return 0
      return reader.readInto(offset, target.subarray(0, Math.min(target.length, sizeBytes - offset)))
    },
    close: () => reader.close(),
  }
}
