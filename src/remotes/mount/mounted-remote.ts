// Not testable on the development machines: their kernels have no nfs/cifs modules and the
// tests do not run as root. The command lines are tested (mount-command.test.ts); the mount
// itself is exercised through an injected runner. docs/remotes.md §Mounts.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, rmdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { openLocalRemote } from '../local/local-remote.ts'
import { RemoteError } from '../remote-error.ts'
import type { Remote } from '../remote.ts'
import { formatRemoteUrl, redactRemoteUrl } from '../url.ts'
import type { RemoteUrl } from '../url.ts'
import type { MountCommand } from './mount-command.ts'
import { buildMountCommand, buildUnmountCommand } from './mount-command.ts'

/** Runs a command and resolves to its exit status and stderr (never rejects on a non-zero exit). */
export type CommandRunner = (command: MountCommand) => Promise<{ status: number | null; stderr: string }>

/** The real runner: spawns the program with the extra environment. */
export const spawnCommand: CommandRunner = (command) =>
  new Promise((resolve, reject) => {
    const child = spawn(command.file, [...command.args], {
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (text: string) => {
      stderr += text
    })
    child.once('error', reject)
    child.once('close', (status) => {
      resolve({ status, stderr })
    })
  })

/** Options of openMountedRemote. */
export interface MountOptions {
  /** Where mount points are created (default `/run/xapi-backup/mounts`). */
  readonly mountsDir?: string
  readonly mountOptions?: string
  readonly runCommand?: CommandRunner
  /** Whether we may mount (default: running as uid 0). */
  readonly isRoot?: boolean
}

/**
 * Mounts an nfs:// or smb:// URL under `mountsDir` (one directory per URL, named by a hash of it)
 * and opens it as a local remote; `close` unmounts. Without root: UNSUPPORTED saying to mount it
 * yourself and use file://; a failed mount gives MOUNT_FAILED with mount's message (and a hint
 * when the NFS/SMB client is missing) and removes the mount point it created.
 */
export async function openMountedRemote(
  url: Extract<RemoteUrl, { type: 'nfs' | 'smb' }>,
  options: MountOptions = {},
): Promise<{ remote: Remote; close(): Promise<void> }> {
  const display = redactRemoteUrl(url)
  if (!(options.isRoot ?? process.getuid?.() === 0)) {
    throw new RemoteError(
      'UNSUPPORTED',
      `${display}: mounting ${url.type} needs root; mount it yourself and use file://<mount point>`,
    )
  }
  const run = options.runCommand ?? spawnCommand
  const id = createHash('sha256').update(formatRemoteUrl(url)).digest('hex').slice(0, 16)
  const mountPoint = join(options.mountsDir ?? '/run/xapi-backup/mounts', id)
  // The first folder mkdir created (undefined when the mount point was already there): only what
  // we created is removed again, so a failed mount leaves nothing behind and touches nothing else.
  const created = await mkdir(mountPoint, { recursive: true })
  let mounted: { status: number | null; stderr: string }
  try {
    mounted = await run(buildMountCommand(url, mountPoint, options.mountOptions))
  } catch (error) {
    await removeCreated(mountPoint, created)
    throw new RemoteError('MOUNT_FAILED', `${display}: could not run mount: ${errorText(error)}`, {
      details: { mountPoint, hint: 'install mount (util-linux) and run as root' },
      cause: error,
    })
  }
  if (mounted.status !== 0) {
    await removeCreated(mountPoint, created)
    const stderr = mounted.stderr.trim()
    throw new RemoteError(
      'MOUNT_FAILED',
      `${display}: mount failed (${mounted.status ?? 'signal'}): ${stderr}`,
      {
        details: { mountPoint, ...(missingHelper(stderr) ? { hint: helperHint(url.type) } : {}) },
      },
    )
  }
  let remote: Remote
  try {
    remote = await openLocalRemote(mountPoint)
  } catch (error) {
    // Mounted but unusable: do not leave the mount (and its folder) behind.
    await run(buildUnmountCommand(mountPoint)).catch(() => undefined)
    await removeCreated(mountPoint, created)
    throw error
  }
  return {
    remote,
    async close() {
      const result = await run(buildUnmountCommand(mountPoint))
      if (result.status !== 0)
        throw new RemoteError('MOUNT_FAILED', `umount ${mountPoint} failed: ${result.stderr.trim()}`)
      await removeCreated(mountPoint, created)
    },
  }
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

// mount(8) says so when the filesystem's helper (mount.nfs, mount.cifs) or its module is missing.
const missingHelper = (stderr: string): boolean =>
  /helper program|wrong fs type|unknown filesystem type|bad option/i.test(stderr)

const helperHint = (type: 'nfs' | 'smb'): string =>
  type === 'nfs'
    ? 'install the NFS client (Debian/Ubuntu: apt install nfs-common; RHEL: nfs-utils)'
    : 'install the SMB client (Debian/Ubuntu: apt install cifs-utils; RHEL: cifs-utils)'

/** Removes the empty folders from `mountPoint` up to `created` (rmdir: never anything with content). */
async function removeCreated(mountPoint: string, created: string | undefined): Promise<void> {
  if (created === undefined) return
  for (let dir = mountPoint; ; dir = dirname(dir)) {
    try {
      await rmdir(dir)
    } catch {
      return // not empty, or gone: leave it and its parents
    }
    if (dir === created || dir === dirname(dir)) return
  }
}
