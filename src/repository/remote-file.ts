import type { RandomAccessFile } from '../formats/vhd/random-access-file.ts'
import type { Remote } from '../remotes/remote.ts'

/**
 * A read-only RandomAccessFile over a remote file, so VHD readers work on any remote (ranged reads
 * on S3, positioned reads on a filesystem). The size is read once, at open.
 */
export async function openRemoteFile(remote: Remote, path: string): Promise<RandomAccessFile> {
  const { sizeBytes } = await remote.stat(path)
  return {
    name: path,
    size: () => Promise.resolve(sizeBytes),
    async read(offset, length) {
      const start = Math.min(offset, sizeBytes)
      const end = Math.min(sizeBytes, offset + length)
      if (end <= start) return new Uint8Array(0)
      const out = new Uint8Array(end - start)
      let at = 0
      for await (const chunk of await remote.read(path, { start, end })) {
        const bytes = chunk as Uint8Array
        out.set(bytes, at)
        at += bytes.byteLength
      }
      return at === out.length ? out : out.subarray(0, at)
    },
  }
}
