// Not testable on the development machines: their kernels have no nfs/cifs modules and the
// tests do not run as root. The command lines are tested (mount-command.test.ts); the mount
// itself is exercised through an injected runner. docs/remotes.md §Mounts.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
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
 * yourself and use file://; a failed mount gives MOUNT_FAILED with mount's message.
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
  await mkdir(mountPoint, { recursive: true })
  const mounted = await run(buildMountCommand(url, mountPoint, options.mountOptions))
  if (mounted.status !== 0) {
    throw new RemoteError(
      'MOUNT_FAILED',
      `${display}: mount failed (${mounted.status ?? 'signal'}): ${mounted.stderr.trim()}`,
      {
        details: { mountPoint },
      },
    )
  }
  const remote = await openLocalRemote(mountPoint)
  return {
    remote,
    async close() {
      const result = await run(buildUnmountCommand(mountPoint))
      if (result.status !== 0)
        throw new RemoteError('MOUNT_FAILED', `umount ${mountPoint} failed: ${result.stderr.trim()}`)
    },
  }
}
