import type { MergeStore } from '../merge-store.ts'
import type { RandomAccessFile } from '../random-access-file.ts'

/**
 * Wraps a MergeStore so that its `limit`-th mutating operation (a file write, state write, rename
 * or delete) kills the process with SIGKILL: a write larger than a sector is torn first (only its
 * first half lands), so crash tests also cover partial writes. `limit` 0 never kills; `onOperation`
 * sees every count (the crash test uses it to learn how many operations a merge does).
 */
export function killSwitchStore(
  store: MergeStore,
  limit: number,
  onOperation: (count: number) => void = () => {},
): MergeStore {
  let count = 0
  const step = async (tornWrite?: () => Promise<void>): Promise<void> => {
    count++
    onOperation(count)
    if (count !== limit) return
    await tornWrite?.()
    process.kill(process.pid, 'SIGKILL')
    // SIGKILL is delivered asynchronously: never let the operation proceed meanwhile.
    await new Promise(() => {})
  }
  const wrapFile = (file: RandomAccessFile): RandomAccessFile => ({
    name: file.name,
    read: (offset, length) => file.read(offset, length),
    size: () => file.size(),
    async write(offset, data) {
      await step(
        data.length > 512
          ? () => file.write?.(offset, data.subarray(0, data.length >> 1)) ?? Promise.resolve()
          : undefined,
      )
      await file.write?.(offset, data)
    },
    sync: async () => file.sync?.(),
    close: async () => file.close?.(),
  })
  return {
    confine: (path, scope, options) => store.confine(path, scope, options),
    open: async (path, mode) => wrapFile(await store.open(path, mode)),
    readFile: (path) => store.readFile(path),
    exists: (path) => store.exists(path),
    async writeFile(path, data) {
      await step()
      await store.writeFile(path, data)
    },
    async rename(from, to) {
      await step()
      await store.rename(from, to)
    },
    async delete(path) {
      await step()
      await store.delete(path)
    },
  }
}
