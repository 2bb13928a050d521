import { join } from 'node:path'
import type { MergeStore } from '../formats/vhd/merge-store.ts'
import { localMergeStore } from '../formats/vhd/merge-store.ts'
import { checkRemotePath } from '../remotes/remote-path.ts'
import { confinePath, resolveReference } from '../shared/confine.ts'

/**
 * The MergeStore of a local (or mounted NFS/SMB) remote rooted at `root`: VHD merges address files
 * by the same relative paths as the Remote, validated the same way, and write them in place.
 * `confine` checks from the remote root down: no symlink anywhere below it, and within `scope`
 * (a merge in a repository passes the VM folder).
 */
export function localRemoteMergeStore(root: string): MergeStore {
  const at = (path: string): string => join(root, checkRemotePath(path))
  return {
    async confine(path, scope, options = {}) {
      await confinePath(root, resolveReference('', path, scope), {
        symlinks: 'refuse',
        type: 'file',
        ...options,
      })
    },
    open: (path, mode) => localMergeStore.open(at(path), mode),
    readFile: (path) => localMergeStore.readFile(at(path)),
    writeFile: (path, data) => localMergeStore.writeFile(at(path), data),
    exists: (path) => localMergeStore.exists(at(path)),
    rename: (from, to) => localMergeStore.rename(at(from), at(to)),
    delete: (path) => localMergeStore.delete(at(path)),
  }
}
