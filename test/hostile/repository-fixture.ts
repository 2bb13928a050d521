// A repository on disk for hostile-input tests of the repository layer: real files under a temp
// folder, reachable as `file://<root>/repo`, with canary files beside it and in another VM folder.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { metadataPath, vmDir, xvaPath } from '../../src/repository/layout.ts'
import { fullMetadata, IDS } from '../../src/repository/testing/sample-metadata.ts'

/** A VM folder other than IDS.vm's, holding canaries that no operation on IDS.vm may touch. */
export const OTHER_VM = 'ffffffff-1111-4222-8333-444444444444'

/** The first backup's timestamp; backup i is taken i days later. */
export const T0 = Date.UTC(2026, 10, 1)
const DAY = 86_400_000

/** A temp folder with `repo/` (the remote root) and canaries inside and outside it. */
export interface RepoFixture {
  readonly root: string
  readonly repo: string
  readonly url: string
  /** Absolute paths of canary files: outside the repository and in OTHER_VM's folder. */
  readonly canaries: readonly string[]
  /** Writes `data` at the remote path `path` (creating folders). */
  put(path: string, data: string | Uint8Array): Promise<void>
  /** Stores a complete full backup of IDS.vm taken `day` days after T0 (metadata, XVA, checksum). */
  putFullBackup(day: number, overrides?: Record<string, unknown>): Promise<string>
  /** True when every canary still has its original content. */
  canariesIntact(): Promise<boolean>
  cleanup(): Promise<void>
}

/** Creates an empty repository fixture with its canaries in place. */
export async function createRepoFixture(): Promise<RepoFixture> {
  const root = await mkdtemp(join(tmpdir(), 'hostile-repo-'))
  const repo = join(root, 'repo')
  const put = async (path: string, data: string | Uint8Array): Promise<void> => {
    const absolute = join(repo, ...path.split('/'))
    await mkdir(dirname(absolute), { recursive: true })
    await writeFile(absolute, data)
  }
  const canaries = [
    join(root, 'canary.txt'),
    join(root, 'canary.vhd'),
    join(repo, vmDir(OTHER_VM), 'canary.xva'),
    join(repo, vmDir(OTHER_VM), 'vdis', IDS.job, IDS.vdiA, 'canary.vhd'),
  ]
  const canaryText = (path: string): string => `canary ${path}\n`
  for (const canary of canaries) {
    await mkdir(dirname(canary), { recursive: true })
    await writeFile(canary, canaryText(canary))
  }
  return {
    root,
    repo,
    url: `file://${repo}`,
    canaries,
    put,
    async putFullBackup(day, overrides = {}) {
      const t = T0 + day * DAY
      const xva = Buffer.alloc(4096, day + 1)
      await put(xvaPath(IDS.vm, t), xva)
      await put(`${xvaPath(IDS.vm, t)}.checksum`, '$1$$00000000000000000000000000000000')
      const metadata = { ...fullMetadata(t), size: xva.length, ...overrides }
      await put(metadataPath(IDS.vm, t), JSON.stringify(metadata))
      return metadataPath(IDS.vm, t)
    },
    async canariesIntact() {
      for (const canary of canaries) {
        const text = await readFile(canary, 'utf8').catch(() => undefined)
        if (text !== canaryText(canary)) return false
      }
      return true
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
}
