import { join } from 'node:path'
import type { MergeStore } from '../../../formats/vhd/merge-store.ts'
import { localMergeStore } from '../../../formats/vhd/merge-store.ts'
import { checkRemotePath } from '../../../remotes/remote-path.ts'
import { confinePath, resolveReference } from '../../../shared/confine.ts'

/**
 * The MergeStore a local remote rooted at `root` gets from the composition root
 * (app/local-merge-store.ts, localRemoteMergeStore), composed the same way here because the layer
 * rules forbid src/engine, its tests included, to import src/app [no-upward-to-app-or-cli].
 */
export function localRemoteStoreForTests(root: string): MergeStore {
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
