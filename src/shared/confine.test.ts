import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { PathError, checkRelativePath, confinePath, isWithin, resolveReference } from './confine.ts'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof PathError, String(error))
    return error.code
  }
  return undefined
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof PathError, String(error))
    return error.code
  }
  return undefined
}

describe('isWithin', () => {
  it('compares whole segments, so a sibling named like the root plus a suffix is outside', () => {
    assert.equal(isWithin('/srv/repo', '/srv/repo'), true)
    assert.equal(isWithin('/srv/repo', '/srv/repo/a/b'), true)
    assert.equal(isWithin('/srv/repo', '/srv/repo-evil'), false)
    assert.equal(isWithin('/srv/repo', '/srv/repo-evil/a'), false)
    assert.equal(isWithin('/srv/repo', '/srv/repo/../repo-evil'), false)
    assert.equal(isWithin('/srv/repo', '/srv'), false)
    assert.equal(isWithin('/srv/repo/', '/srv/repo/..x'), true)
  })
})

describe('checkRelativePath', () => {
  it('refuses absolute, dot segments, empty segments, NUL and backslashes', () => {
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/./b', 'a//b', 'a/', 'a\0b', 'a\\b', '', '..']) {
      assert.equal(
        code(() => checkRelativePath(bad)),
        'PATH_INVALID',
        bad,
      )
    }
    assert.equal(checkRelativePath('', true), '')
    assert.equal(checkRelativePath('xo-vm-backups/vm/..a'), 'xo-vm-backups/vm/..a')
  })
})

describe('resolveReference', () => {
  it('resolves relative references inside the scope and refuses every way out', () => {
    assert.equal(
      resolveReference('vdis/job/vdi', '20240101T000000Z.vhd'),
      'vdis/job/vdi/20240101T000000Z.vhd',
    )
    assert.equal(resolveReference('vdis/job/vdi', './a.vhd', 'vdis/job/vdi'), 'vdis/job/vdi/a.vhd')
    assert.equal(resolveReference('vdis/job/vdi', '../other/a.vhd', 'vdis/job'), 'vdis/job/other/a.vhd')
    assert.equal(
      code(() => resolveReference('vdis/job/vdi', '../other/a.vhd', 'vdis/job/vdi')),
      'PATH_ESCAPE',
    )
    assert.equal(
      code(() => resolveReference('vdis/job/vdi', '../../../../victim')),
      'PATH_ESCAPE',
    )
    assert.equal(
      code(() => resolveReference('a', '../../a-evil/x', 'a')),
      'PATH_ESCAPE',
    )
    assert.equal(
      code(() => resolveReference('a', '/etc/passwd')),
      'PATH_INVALID',
    )
    assert.equal(
      code(() => resolveReference('a', 'x\\..\\y')),
      'PATH_INVALID',
    )
    assert.equal(
      code(() => resolveReference('a', '..')),
      'PATH_ESCAPE',
    )
  })
})

describe('confinePath', () => {
  let base: string
  let root: string
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'confine-'))
    root = join(base, 'repo')
    await mkdir(join(root, 'vm', 'inner'), { recursive: true })
    await mkdir(join(base, 'repo-evil'))
    await writeFile(join(root, 'vm', 'a.vhd'), 'a')
    await writeFile(join(base, 'repo-evil', 'victim'), 'canary')
    await writeFile(join(base, 'outside'), 'canary')
    await symlink(join(base, 'repo-evil'), join(root, 'vm', 'evil-dir'))
    await symlink(join(root, 'vm', 'a.vhd'), join(root, 'vm', 'inside-link.vhd'))
    await symlink(join(base, 'outside'), join(root, 'vm', 'outside-link'))
    execFileSync('mkfifo', [join(root, 'vm', 'fifo')])
  })
  after(() => rm(base, { recursive: true, force: true }))

  it('returns the absolute path of a regular file under the root', async () => {
    assert.equal(await confinePath(root, 'vm/a.vhd'), join(root, 'vm', 'a.vhd'))
  })
  it('refuses symlinks by default, even ones that stay inside', async () => {
    assert.equal(await codeOf(confinePath(root, 'vm/inside-link.vhd')), 'PATH_SYMLINK')
    assert.equal(await codeOf(confinePath(root, 'vm/evil-dir/victim')), 'PATH_SYMLINK')
  })
  it('with symlinks within-root, follows those that stay inside and refuses escapes', async () => {
    const opts = { symlinks: 'within-root' } as const
    assert.equal(await confinePath(root, 'vm/inside-link.vhd', opts), join(root, 'vm', 'inside-link.vhd'))
    assert.equal(await codeOf(confinePath(root, 'vm/outside-link', opts)), 'PATH_ESCAPE')
    assert.equal(await codeOf(confinePath(root, 'vm/evil-dir/victim', opts)), 'PATH_ESCAPE')
  })
  it('refuses a FIFO, a directory where a file is expected, and a missing file unless allowed', async () => {
    assert.equal(await codeOf(confinePath(root, 'vm/fifo')), 'PATH_NOT_REGULAR')
    assert.equal(await codeOf(confinePath(root, 'vm/inner')), 'PATH_NOT_REGULAR')
    assert.equal(await confinePath(root, 'vm/inner', { type: 'directory' }), join(root, 'vm', 'inner'))
    assert.equal(await codeOf(confinePath(root, 'vm/nope')), 'PATH_MISSING')
    assert.equal(await confinePath(root, 'vm/nope', { allowMissing: true }), join(root, 'vm', 'nope'))
    assert.equal(await codeOf(confinePath(root, 'vm/a.vhd/x')), 'PATH_INVALID')
  })
  it('refuses traversal syntax before touching the disk', async () => {
    assert.equal(await codeOf(confinePath(root, '../repo-evil/victim')), 'PATH_INVALID')
    assert.equal(await codeOf(confinePath(root, '/etc/passwd')), 'PATH_INVALID')
  })
})
