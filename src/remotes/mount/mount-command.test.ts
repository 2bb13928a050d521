import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { describe, it } from 'node:test'
import { rejectsWith } from '../testing/conformance.ts'
import { parseRemoteUrl } from '../url.ts'
import type { RemoteError } from '../remote-error.ts'
import type { RemoteUrl } from '../url.ts'
import { buildMountCommand } from './mount-command.ts'
import type { MountCommand } from './mount-command.ts'
import { openMountedRemote, spawnCommand } from './mounted-remote.ts'

type Mountable = Extract<RemoteUrl, { type: 'nfs' | 'smb' }>
const mountable = (text: string) => parseRemoteUrl(text) as Mountable

// The mount itself cannot run here (no nfs/cifs kernel modules, not root): the command lines are
// what we can check, and the open/close sequence through a fake runner.
describe('mount commands', () => {
  it('builds the nfs command with the port and extra options', () => {
    assert.deepEqual(buildMountCommand(mountable('nfs://nas:/exports/xo'), '/mnt/x'), {
      file: 'mount',
      args: ['-t', 'nfs', 'nas:/exports/xo', '/mnt/x'],
      env: {},
    })
    assert.deepEqual(buildMountCommand(mountable('nfs://nas:2049:/exports/xo'), '/mnt/x', 'vers=3').args, [
      '-t',
      'nfs',
      '-o',
      'port=2049,vers=3',
      'nas:/exports/xo',
      '/mnt/x',
    ])
  })

  it('builds the cifs command with the domain, credentials only in the environment', () => {
    const command = buildMountCommand(
      mountable('smb://Administrator:pas:sw@ord@toto\\\\192.168.1.2\\smb\0backups\\xo'),
      '/mnt/s',
    )
    assert.deepEqual(command.args, [
      '-t',
      'cifs',
      '-o',
      'domain=toto',
      '//192.168.1.2/smb/backups/xo',
      '/mnt/s',
    ])
    assert.deepEqual(command.env, { USER: 'Administrator', PASSWD: 'pas:sw@ord' })
    assert.ok(
      !command.args.join(' ').includes('pas:sw@ord'),
      "!command.args.join(' ').includes('pas:sw@ord')",
    )
  })

  it('mounts, opens the mount point as a local remote, and unmounts on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mounts-'))
    try {
      const ran: MountCommand[] = []
      const opened = await openMountedRemote(mountable('nfs://nas:/e'), {
        mountsDir: dir,
        isRoot: true,
        runCommand: (c) => (ran.push(c), Promise.resolve({ status: 0, stderr: '' })),
      })
      await opened.remote.write('probe', Buffer.from('x'))
      await opened.close()
      assert.deepEqual(
        ran.map((c) => c.file),
        ['mount', 'umount'],
      )
      assert.equal(ran[0]?.args.at(-1), ran[1]?.args[0])
      assert.ok(
        opened.remote.description.startsWith(`file://${dir}`),
        'opened.remote.description.startsWith(`file://${dir}`)',
      )
      await rejectsWith(
        openMountedRemote(mountable('smb://u:hunter2@d\\\\h\\s\0'), {
          mountsDir: dir,
          isRoot: true,
          runCommand: () => Promise.resolve({ status: 32, stderr: 'mount error(13): Permission denied' }),
        }),
        'MOUNT_FAILED',
      )
      await rejectsWith(
        openMountedRemote(mountable('nfs://nas:/e'), { mountsDir: dir, isRoot: false }),
        'UNSUPPORTED',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a failed mount removes the mount point it created, and only that', { timeout: 30_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mounts-'))
    try {
      // A fake mount(8), run through the real spawner: says what mount says without nfs-common.
      const fake = join(dir, 'fake-mount')
      await writeFile(
        fake,
        '#!/bin/sh\necho "mount: $4: bad option; you might need a /sbin/mount.<type> helper program." >&2\nexit 32\n',
      )
      await chmod(fake, 0o755)
      const mountsDir = join(dir, 'run', 'mounts')
      const error = await openMountedRemote(mountable('nfs://nas:/e'), {
        mountsDir,
        isRoot: true,
        runCommand: (command) => spawnCommand({ ...command, file: fake }),
      }).then(
        () => assert.fail('the mount should fail'),
        (e: unknown) => e as RemoteError,
      )
      assert.equal(error.code, 'MOUNT_FAILED')
      assert.match(error.details?.hint as string, /nfs-common/)
      assert.deepEqual(await readdir(dir), ['fake-mount'], 'no mount point (nor its parents) left behind')

      // A mount command that cannot even start: same cleanup, a hint, no raw spawn error.
      await rejectsWith(
        openMountedRemote(mountable('smb://u:hunter2@d\\\\h\\s\0'), {
          mountsDir,
          isRoot: true,
          runCommand: (command) => spawnCommand({ ...command, file: join(dir, 'no-such-mount') }),
        }),
        'MOUNT_FAILED',
      )
      assert.deepEqual(await readdir(dir), ['fake-mount'])

      // A mount point that was already there (left by someone else) is left alone.
      const mountPoint = error.details?.mountPoint as string
      await mkdir(mountPoint, { recursive: true })
      await rejectsWith(
        openMountedRemote(mountable('nfs://nas:/e'), {
          mountsDir,
          isRoot: true,
          runCommand: (command) => spawnCommand({ ...command, file: fake }),
        }),
        'MOUNT_FAILED',
      )
      assert.deepEqual(await readdir(mountsDir), [basename(mountPoint)])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
