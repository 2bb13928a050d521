import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isUuid } from '../../shared/ids.ts'
import { DATABASE_FILE } from './open-store.ts'
import { tempStore } from './store-test-kit.ts'
import { hashToken } from './token-store.ts'
import { keepForever, openDatabase } from './native-handles.ts'

describe('store: API tokens', () => {
  it('creates a token shown once, stored only as its sha256', (t) => {
    const { store, dataDir, clock } = tempStore(t)
    const { record, token } = store.createToken('ci')
    assert.match(token, /^xb_[A-Za-z0-9_-]{43}$/)
    assert.equal(Buffer.from(token.slice(3), 'base64url').length, 32)
    assert.ok(isUuid(record.id), record.id)
    assert.deepEqual(record, {
      id: record.id,
      name: 'ci',
      createdAt: clock.now(),
      lastUsedAt: null,
      revokedAt: null,
    })
    assert.deepEqual(store.listTokens(), [record])
    assert.notEqual(store.createToken('other').token, token)
    store.close()
    const db = openDatabase(join(dataDir, DATABASE_FILE), { readonly: true })
    t.after(() => db.close())
    const stored = keepForever(db.prepare('SELECT hash FROM tokens WHERE id = ?')).pluck().get(record.id)
    assert.equal(stored, createHash('sha256').update(token).digest('hex'))
    assert.notEqual(stored, token)
    for (const name of readdirSync(dataDir)) {
      assert.equal(
        readFileSync(join(dataDir, name)).includes(token.slice(3)),
        false,
        `token found in ${name}`,
      )
    }
  })

  it('verifies a live token, dating its last use, and rejects wrong, malformed and revoked ones', (t) => {
    const { store, clock } = tempStore(t)
    const { record, token } = store.createToken('console')
    clock.advance(5000)
    assert.deepEqual(store.verifyToken(token), { ...record, lastUsedAt: clock.now() })
    assert.equal(store.listTokens()[0]?.lastUsedAt, clock.now())
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')
    for (const wrong of [
      flipped,
      '',
      'xb_',
      token.slice(3),
      `${token}x`,
      `Bearer ${token}`,
      hashToken(token),
    ]) {
      assert.equal(store.verifyToken(wrong), undefined, `accepted ${wrong}`)
    }
    clock.advance(1000)
    assert.equal(store.revokeToken(record.id), true)
    const revokedAt = clock.now()
    assert.equal(store.verifyToken(token), undefined)
    clock.advance(1000)
    assert.equal(store.revokeToken(record.id), true, 'revoking again is not an error')
    assert.deepEqual(store.listTokens(), [{ ...record, lastUsedAt: revokedAt - 1000, revokedAt }])
    assert.equal(store.revokeToken('00000000-0000-4000-8000-000000000000'), false)
  })
})
