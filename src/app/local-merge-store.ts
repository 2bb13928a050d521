import { join } from 'node:path'
import type { MergeStore } from '../formats/vhd/merge-store.ts'
import { localMergeStore } from '../formats/vhd/merge-store.ts'
import { checkRemotePath } from '../remotes/remote-path.ts'

/**
 * The MergeStore of a local (or mounted NFS/SMB) remote rooted at `root`: VHD merges address files
 * by the same relative paths as the Remote, validated the same way, and write them in place.
 */
export function localRemoteMergeStore(root: string): MergeStore {
  const at = (path: string): string => join(root, checkRemotePath(path))
  return {
    open: (path, mode) => localMergeStore.open(at(path), mode),
    readFile: (path) => localMergeStore.readFile(at(path)),
    writeFile: (path, data) => localMergeStore.writeFile(at(path), data),
    exists: (path) => localMergeStore.exists(at(path)),
    rename: (from, to) => localMergeStore.rename(at(from), at(to)),
    delete: (path) => localMergeStore.delete(at(path)),
  }
}
