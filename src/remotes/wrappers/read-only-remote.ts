import { RemoteError } from '../remote-error.ts'
import type { Remote } from '../remote.ts'
import { wrapRemote } from './wrap-remote.ts'

/** A view of `inner` where reads pass through and every mutation (locks too) rejects with READ_ONLY. */
export function readOnlyRemote(inner: Remote): Remote {
  const refuse = (operation: string, path: string) =>
    Promise.reject(
      new RemoteError(
        'READ_ONLY',
        `${operation} ${JSON.stringify(path)}: ${inner.description} is read-only`,
        {
          details: { operation, path },
        },
      ),
    )
  return wrapRemote(inner, {
    capabilities: { ...inner.capabilities, readOnly: true },
    description: `${inner.description} (read-only)`,
    write: (path) => refuse('write', path),
    delete: (path) => refuse('delete', path),
    deleteMany: (paths) => refuse('deleteMany', paths[0] ?? ''),
    rename: (from) => refuse('rename', from),
    lock: (path) => refuse('lock', path),
  })
}
