import assert from 'node:assert/strict'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { openSecretFile } from './secret-file.ts'
import { storeErrorOf, tempDir } from './store-test-kit.ts'

describe('openSecretFile', () => {
  it('creates the file 0600, and set/delete persist across a reopen with no temp file left', (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'secrets.json')
    const secrets = openSecretFile(path)
    assert.equal(lstatSync(path).mode & 0o777, 0o600)
    secrets.set('pool:a', 'pw-a')
    secrets.set('remote:b', 's3://key:secret@bucket')
    secrets.set('__proto__', 'odd key')
    secrets.delete('pool:a')
    secrets.delete('missing')
    assert.equal(lstatSync(path).mode & 0o777, 0o600)
    assert.deepEqual(readdirSync(dir), ['secrets.json'])
    const again = openSecretFile(path)
    assert.equal(again.get('pool:a'), undefined)
    assert.equal(again.get('remote:b'), 's3://key:secret@bucket')
    assert.equal(again.get('__proto__'), 'odd key')
    assert.equal(again.get('toString'), undefined)
  })

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`refuses a file of mode ${mode.toString(8)} with STORE_SECRETS_MODE naming the file and mode`, (t) => {
      const path = join(tempDir(t), 'secrets.json')
      writeFileSync(path, '{"version":1,"secrets":{"smtp":"pw"}}')
      chmodSync(path, mode)
      const error = storeErrorOf(() => openSecretFile(path))
      assert.equal(error.code, 'STORE_SECRETS_MODE')
      assert.ok(error.message.includes(path), error.message)
      assert.ok(error.message.includes(`0${mode.toString(8)}`), error.message)
    })
  }

  it('refuses a symlink, even to a valid 0600 file, and a directory', (t) => {
    const dir = tempDir(t)
    const target = join(dir, 'real.json')
    writeFileSync(target, '{"version":1,"secrets":{}}', { mode: 0o600 })
    symlinkSync(target, join(dir, 'secrets.json'))
    assert.equal(storeErrorOf(() => openSecretFile(join(dir, 'secrets.json'))).code, 'STORE_SECRETS_INVALID')
    mkdirSync(join(dir, 'as-dir.json'))
    assert.equal(storeErrorOf(() => openSecretFile(join(dir, 'as-dir.json'))).code, 'STORE_SECRETS_INVALID')
  })

  const corrupt = [
    ['not JSON', '{"version":1,"secr'],
    ['an array', '[]'],
    ['another version', '{"version":2,"secrets":{}}'],
    ['secrets not an object', '{"version":1,"secrets":["a"]}'],
    ['a value that is not a string', '{"version":1,"secrets":{"pool:a":42}}'],
  ] as const
  for (const [what, text] of corrupt) {
    it(`refuses a file that is ${what} and never overwrites it`, (t) => {
      const path = join(tempDir(t), 'secrets.json')
      writeFileSync(path, text, { mode: 0o600 })
      const error = storeErrorOf(() => openSecretFile(path))
      assert.equal(error.code, 'STORE_SECRETS_INVALID')
      assert.ok(error.message.includes(path), error.message)
      assert.equal(readFileSync(path, 'utf8'), text)
    })
  }

  it('keeps the previous value when a write fails (STORE_SECRETS_WRITE_FAILED)', (t) => {
    const dir = join(tempDir(t), 'data')
    mkdirSync(dir)
    const secrets = openSecretFile(join(dir, 'secrets.json'))
    secrets.set('smtp', 'old')
    // Removing the directory makes the temp file impossible to create, even for root.
    rmSync(dir, { recursive: true })
    assert.equal(
      storeErrorOf(() => {
        secrets.set('smtp', 'new')
      }).code,
      'STORE_SECRETS_WRITE_FAILED',
    )
    assert.equal(secrets.get('smtp'), 'old')
    assert.equal(
      storeErrorOf(() => {
        secrets.delete('smtp')
      }).code,
      'STORE_SECRETS_WRITE_FAILED',
    )
    assert.equal(secrets.get('smtp'), 'old')
  })
})
