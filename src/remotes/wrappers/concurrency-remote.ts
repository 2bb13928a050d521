import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { Remote, RemoteEntry } from '../remote.ts'
import { Semaphore } from './semaphore.ts'
import { wrapRemote } from './wrap-remote.ts'

/**
 * Limits `inner` to `limit` operations at once (XO's maxParallelOperations). A read holds its slot
 * until its stream ends or is destroyed, a listing until its iteration ends; so a caller that keeps
 * `limit` streams open and then starts another operation waits for one of them (by design).
 */
export function withConcurrencyLimit(
  inner: Remote,
  limit: number,
): Remote & { readonly active: () => number } {
  const slots = new Semaphore(limit)
  async function* list(prefix: string, options: Parameters<Remote['list']>[1]): AsyncGenerator<RemoteEntry> {
    await slots.acquire()
    try {
      yield* inner.list(prefix, options)
    } finally {
      slots.release()
    }
  }
  return {
    ...wrapRemote(inner, {
      async read(path, options) {
        await slots.acquire()
        let stream: Readable
        try {
          stream = await inner.read(path, options)
        } catch (error) {
          slots.release()
          throw error
        }
        // The slot is freed when the stream ends, fails or is destroyed, whichever comes first.
        const release = (): void => {
          slots.release()
        }
        finished(stream).then(release, release)
        return stream
      },
      write: (path, source, options) => slots.run(() => inner.write(path, source, options)),
      stat: (path) => slots.run(() => inner.stat(path)),
      list,
      delete: (path) => slots.run(() => inner.delete(path)),
      deleteMany: (paths) => slots.run(() => inner.deleteMany(paths)),
      rename: (from, to) => slots.run(() => inner.rename(from, to)),
      lock: (path, options) => slots.run(() => inner.lock(path, options)),
      info: () => slots.run(() => inner.info()),
    }),
    active: () => slots.held,
  }
}
