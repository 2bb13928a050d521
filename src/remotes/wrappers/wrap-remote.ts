import type { Remote } from '../remote.ts'

/**
 * A Remote that forwards every call to `inner` except those in `overrides`, for wrappers that
 * change a few operations (retry, throttle, limits, read-only) and pass the rest through.
 */
export function wrapRemote(inner: Remote, overrides: Partial<Remote>): Remote {
  return {
    capabilities: overrides.capabilities ?? inner.capabilities,
    description: overrides.description ?? inner.description,
    read: overrides.read ?? ((path, options) => inner.read(path, options)),
    write: overrides.write ?? ((path, source, options) => inner.write(path, source, options)),
    stat: overrides.stat ?? ((path) => inner.stat(path)),
    list: overrides.list ?? ((prefix, options) => inner.list(prefix, options)),
    delete: overrides.delete ?? ((path) => inner.delete(path)),
    deleteMany: overrides.deleteMany ?? ((paths) => inner.deleteMany(paths)),
    rename: overrides.rename ?? ((from, to) => inner.rename(from, to)),
    lock: overrides.lock ?? ((path, options) => inner.lock(path, options)),
    info: overrides.info ?? (() => inner.info()),
  }
}
