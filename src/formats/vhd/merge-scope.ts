import { posix } from 'node:path'
import { PathError, resolveReference } from '../../shared/confine.ts'
import type { MergeState } from './merge-state.ts'
import type { MergeConfineOptions, MergeStore } from './merge-store.ts'
import type { ParentResolver } from './vhd-chain.ts'
import { fail } from './vhd-error.ts'

/**
 * Where a merge may act: its store, and the folder (a store path) that every file it opens, renames
 * or deletes must be in — the chain's folder for `vhd merge`, the VM folder in a repository.
 */
export interface MergeContext {
  readonly store: MergeStore
  readonly scope: string
}

/** Where a path was read, for messages: the file that holds it and the field. */
export interface PathSource {
  readonly file: string
  readonly field: string
}

/** Rethrows a PathError with its source (and the scope) in the message, same code; other errors pass. */
function rethrowWithSource(error: unknown, source: PathSource, scope?: string): never {
  if (!(error instanceof PathError)) throw error
  const where = scope === undefined ? '' : ` (merge scope ${JSON.stringify(scope === '' ? '.' : scope)})`
  throw new PathError(error.code, `${source.file} ${source.field}: ${error.message}${where}`, {
    details: {
      ...error.details,
      file: source.file,
      field: source.field,
      ...(scope === undefined ? {} : { scope }),
    },
  })
}

/**
 * Resolves `reference` (read at `source`) against the store folder `fromDir` and returns the store
 * path, through resolveReference with the scope as its root: PathError PATH_INVALID (absolute, NUL,
 * backslash, empty) or PATH_ESCAPE (outside the scope).
 */
export function resolveInScope(
  scope: string,
  fromDir: string,
  reference: string,
  source: PathSource,
): string {
  try {
    const relative = resolveReference(posix.relative(posix.resolve(scope), posix.resolve(fromDir)), reference)
    return scope === '' ? relative : posix.join(scope, relative)
  } catch (error) {
    return rethrowWithSource(error, source, scope)
  }
}

/** Checks that `path`, given by the caller (it may come from a parent locator), lies in the scope. */
export function checkInScope(scope: string, path: string, source: PathSource): string {
  const relative = posix.relative(posix.resolve(scope), posix.resolve(path))
  return resolveInScope(scope, scope, relative === '' ? '.' : relative, source)
}

/** MergeStore.confine in the context's scope, the error naming where the path was read. */
export async function confineIn(
  context: MergeContext,
  path: string,
  source: PathSource,
  options: MergeConfineOptions = {},
): Promise<void> {
  try {
    await context.store.confine(path, context.scope, options)
  } catch (error) {
    rethrowWithSource(error, source)
  }
}

/**
 * The parent resolver of a merge: a parent name is followed only inside the scope (no absolute
 * name, no climbing out), to a regular file reached without symlinks (MergeStore.confine).
 */
export function scopedParentResolver(context: MergeContext): ParentResolver {
  return async (childPath, parentName) => {
    const source = { file: childPath, field: 'header.parentUnicodeName' }
    const path = resolveInScope(context.scope, posix.dirname(childPath), parentName, source)
    await context.store.confine(path, context.scope)
    return path
  }
}

/**
 * The store paths of a state file's `chain` (relative to the state file's folder), each resolved
 * inside the scope; refuses duplicates and the state file itself, which a cleanup would then delete.
 */
export function resolveStateChain(scope: string, statePath: string, state: MergeState): string[] {
  const dir = posix.dirname(statePath)
  const chain = state.chain.map((entry, i) =>
    resolveInScope(scope, dir, entry, { file: statePath, field: `chain[${i}]` }),
  )
  chain.forEach((path, i) => {
    if (path === statePath || chain.indexOf(path) !== i)
      fail('VHD_MERGE_STATE', statePath, 0, `chain[${i}]`, 'distinct VHD files', `${path} again`)
  })
  return chain
}
