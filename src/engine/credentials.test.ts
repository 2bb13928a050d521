import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { format, inspect } from 'node:util'
import type { CredentialReader, CredentialSource } from './credentials.ts'
import { Credential, checkCredentialSource, resolveCredential } from './credentials.ts'
import { MAX_CREDENTIAL_FILE_BYTES, nodeCredentialReader, readBoundedFile } from './run-description-file.ts'
import { RunDescriptionError } from './run-description-error.ts'

const SECRET = 'p4ss-SECRET'

describe('Credential', () => {
  it('never shows its value by accident', () => {
    const c = new Credential(SECRET)
    const shown = [
      String(c),
      c.toString(),
      JSON.stringify({ password: c }),
      inspect(c),
      inspect({ nested: { c } }, { depth: 10 }),
      format('%s %o %O %j', c, c, c, { c }),
    ]
    for (const text of shown) assert.ok(!text.includes(SECRET), text)
    assert.equal(JSON.stringify(c), '"***"')
    assert.equal(c.reveal(), SECRET)
  })

  it('a parsed literal is already hidden', () => {
    const source = checkCredentialSource(SECRET, ['p'])
    assert.ok(
      !inspect(source, { depth: 10 }).includes(SECRET),
      '!inspect(source, { depth: 10 }).includes(SECRET)',
    )
    assert.ok(!JSON.stringify(source).includes(SECRET), '!JSON.stringify(source).includes(SECRET)')
  })
})

describe('checkCredentialSource', () => {
  it('reads the three forms', () => {
    assert.deepEqual(checkCredentialSource({ env: 'XAPI_PASSWORD' }, ['p']), {
      kind: 'env',
      name: 'XAPI_PASSWORD',
    })
    assert.deepEqual(checkCredentialSource({ file: 'secrets/pw' }, ['p']), {
      kind: 'file',
      path: 'secrets/pw',
    })
    assert.equal(checkCredentialSource(SECRET, ['p']).kind, 'literal')
  })
  const invalid: [unknown, string][] = [
    ['', "p: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got an empty string"],
    [42, "p: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got a number (value hidden)"],
    [true, "p: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got a boolean (value hidden)"],
    [{}, "p: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got an object with the fields (none)"],
    [
      { value: SECRET },
      "p: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got an object with the fields value",
    ],
    [{ env: 'MY-VAR' }, 'p.env: expected an environment variable name (letters, digits, _), got "MY-VAR"'],
    [{ file: '' }, 'p.file: expected a file path, got ""'],
  ]
  for (const [value, message] of invalid)
    it(`refuses ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => checkCredentialSource(value, ['p']),
        (e: unknown) => e instanceof RunDescriptionError && e.message === message,
      )
    })
})

describe('resolveCredential', () => {
  const reader: CredentialReader = {
    env: { SET: SECRET, EMPTY: '' },
    readFile: (path) => {
      const files: Record<string, string> = {
        pw: `${SECRET}\n`,
        crlf: `${SECRET}\r\n`,
        two: `${SECRET}\n\n`,
        empty: '\n',
      }
      const text = files[path]
      const code = path === 'big' ? 'TOO_LARGE' : path === 'locked' ? 'EACCES' : 'ENOENT'
      return text === undefined
        ? Promise.reject(Object.assign(new Error(path), { code }))
        : Promise.resolve(text)
    },
  }
  const ok: [CredentialSource, string][] = [
    [{ kind: 'literal', value: new Credential(SECRET) }, SECRET],
    [{ kind: 'env', name: 'SET' }, SECRET],
    [{ kind: 'file', path: 'pw' }, SECRET],
    [{ kind: 'file', path: 'crlf' }, SECRET],
    [{ kind: 'file', path: 'two' }, `${SECRET}\n`],
  ]
  for (const [source, value] of ok)
    it(`${source.kind} ${'name' in source ? source.name : 'path' in source ? source.path : ''}`, async () => {
      assert.equal((await resolveCredential(source, ['p'], reader)).reveal(), value)
    })

  const failing: [CredentialSource, string][] = [
    [{ kind: 'env', name: 'UNSET' }, 'p: environment variable UNSET is not set'],
    [{ kind: 'env', name: 'EMPTY' }, 'p: environment variable EMPTY is empty'],
    [{ kind: 'file', path: 'gone' }, 'p: credential file "gone" does not exist'],
    [{ kind: 'file', path: 'big' }, 'p: credential file "big" is too large for a credential'],
    [{ kind: 'file', path: 'locked' }, 'p: credential file "locked" cannot be read (EACCES)'],
    [{ kind: 'file', path: 'empty' }, 'p: credential file "empty" is empty'],
  ]
  for (const [source, message] of failing)
    it(message, async () => {
      await assert.rejects(
        resolveCredential(source, ['p'], reader),
        (e: unknown) =>
          e instanceof RunDescriptionError && e.code === 'CREDENTIAL_UNAVAILABLE' && e.message === message,
      )
    })
})

describe('nodeCredentialReader and readBoundedFile', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xapi-backup-credentials-'))
    await writeFile(join(dir, 'pw'), `${SECRET}\n`)
    await writeFile(join(dir, 'big'), Buffer.alloc(MAX_CREDENTIAL_FILE_BYTES + 1, 0x61))
    await mkdir(join(dir, 'sub'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads a relative path from the base directory', async () => {
    const c = await resolveCredential({ kind: 'file', path: 'pw' }, ['p'], nodeCredentialReader(dir, {}))
    assert.equal(c.reveal(), SECRET)
  })
  const failing: [string, string][] = [
    ['missing', 'does not exist'],
    ['big', 'is too large for a credential'],
    ['sub', 'cannot be read (NOT_REGULAR)'],
  ]
  for (const [name, reason] of failing)
    it(`${name}: ${reason}`, async () => {
      await assert.rejects(
        resolveCredential({ kind: 'file', path: name }, ['p'], nodeCredentialReader(dir, {})),
        (e: unknown) => e instanceof Error && e.message === `p: credential file "${name}" ${reason}`,
      )
    })
  it('readBoundedFile reads a file of exactly the bound', async () => {
    await writeFile(join(dir, 'exact'), Buffer.alloc(10, 0x62))
    assert.equal((await readBoundedFile(join(dir, 'exact'), 10)).byteLength, 10)
    await assert.rejects(
      readBoundedFile(join(dir, 'exact'), 9),
      (e: unknown) => (e as { code?: string }).code === 'TOO_LARGE',
    )
  })
})
