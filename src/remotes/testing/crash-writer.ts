// Child process of the local crash test (local/local-crash.test.ts): publishes versions 1, 2, 3…
// of one file through LocalRemote.write, each from 64 KiB chunks, printing one line per chunk
// and per published version, until the parent kills it with SIGKILL at a chosen line.
import { openLocalRemote } from '../local/local-remote.ts'
import { patternBytes } from './conformance-support.ts'

/** Size of every version; the content of version `v` is `patternBytes(CRASH_FILE_BYTES, v)`. */
export const CRASH_FILE_BYTES = 1 << 20
const CHUNK_BYTES = 64 << 10

async function* chunks(version: number): AsyncGenerator<Uint8Array> {
  const data = patternBytes(CRASH_FILE_BYTES, version)
  for (let offset = 0; offset < data.byteLength; offset += CHUNK_BYTES) {
    process.stdout.write(`chunk ${version} ${offset}\n`)
    yield await Promise.resolve(data.subarray(offset, offset + CHUNK_BYTES))
  }
}

const [root, path] = process.argv.slice(2)
if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  if (root === undefined || path === undefined) throw new Error('usage: crash-writer.ts <root> <path>')
  const remote = await openLocalRemote(root)
  for (let version = 1; ; version++) {
    await remote.write(path, chunks(version), { sizeBytes: CRASH_FILE_BYTES })
    process.stdout.write(`published ${version}\n`)
  }
}
