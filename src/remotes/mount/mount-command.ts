// NFS and SMB remotes are mounted with the system's mount(8) (xen-orchestra-backups.md §8.1–8.2:
// `mount -t nfs host:path` with `port=`, `mount -t cifs //host/share` with `domain=` and the
// credentials in the USER/PASSWD environment, which mount.cifs reads, so they never show in `ps`).
import type { RemoteUrl } from '../url.ts'

/** A command line to run: program, arguments and extra environment (secrets only go there). */
export interface MountCommand {
  readonly file: string
  readonly args: readonly string[]
  readonly env: Readonly<Record<string, string>>
}

type MountableUrl = Extract<RemoteUrl, { type: 'nfs' | 'smb' }>

/** True when `url` is mounted rather than opened directly. */
export function isMountable(url: RemoteUrl): url is MountableUrl {
  return url.type === 'nfs' || url.type === 'smb'
}

const optionList = (options: readonly string[]): string[] => {
  const list = options.filter((o) => o !== '')
  return list.length === 0 ? [] : ['-o', list.join(',')]
}

/**
 * The `mount` command for an nfs:// or smb:// URL at `mountPoint`; `mountOptions` are the remote's
 * extra options (e.g. `vers=3`), appended after ours.
 */
export function buildMountCommand(url: MountableUrl, mountPoint: string, mountOptions = ''): MountCommand {
  if (url.type === 'nfs') {
    const options = optionList([url.port === undefined ? '' : `port=${url.port}`, mountOptions])
    return { file: 'mount', args: ['-t', 'nfs', ...options, `${url.host}:${url.path}`, mountPoint], env: {} }
  }
  // XO keeps the share and its subpath with backslashes; mount.cifs wants //server/share/sub.
  const device = `//${url.host.split('\\').join('/')}${url.path === '' ? '' : `/${url.path.split('\\').join('/')}`}`
  return {
    file: 'mount',
    args: ['-t', 'cifs', ...optionList([`domain=${url.domain}`, mountOptions]), device, mountPoint],
    env: { USER: url.username, PASSWD: url.password.reveal() },
  }
}

/** The command that undoes a mount. */
export function buildUnmountCommand(mountPoint: string): MountCommand {
  return { file: 'umount', args: [mountPoint], env: {} }
}
