import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { rejectsWith } from '../testing/conformance.ts'
import { parseRemoteUrl } from '../url.ts'
import type { RemoteUrl } from '../url.ts'
import { buildMountCommand } from './mount-command.ts'
import type { MountCommand } from './mount-command.ts'
import { openMountedRemote } from './mounted-remote.ts'

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
    assert.ok(!command.args.join(' ').includes('pas:sw@ord'))
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
      assert.ok(opened.remote.description.startsWith(`file://${dir}`))
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
})
