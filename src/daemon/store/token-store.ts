// API tokens: shown once at creation, stored only as a hash.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { Clock } from '../../shared/clock.ts'
import type { TokenRecord } from '../model.ts'
import type { Store } from '../store-port.ts'
import { readRow } from './rows.ts'
import type { Row } from './rows.ts'
import { createStatements } from './statements.ts'

/** The token methods of a Store. */
export type TokenStore = Pick<Store, 'createToken' | 'listTokens' | 'revokeToken' | 'verifyToken'>

/** What every token starts with, so that a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'xb_'

const TOKEN_BYTES = 32
// `xb_` and the base64url of 32 bytes (43 characters, no padding).
const TOKEN_SHAPE = /^xb_[A-Za-z0-9_-]{43}$/

/**
 * The stored form of a token: sha256 hex. A token is 256 random bits, so no guessing or
 * dictionary attack applies to its hash and a slow hash (scrypt) would only cost every request.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** The TokenStore over a migrated database `db`; `clock` dates creation, use and revocation. */
export function createTokenStore(db: Database.Database, clock: Clock): TokenStore {
  const sql = createStatements(db)
  const byId = (id: string): TokenRecord | undefined => {
    const row = sql('SELECT * FROM tokens WHERE id = ?').get(id) as Row | undefined
    return row === undefined ? undefined : toToken(row)
  }
  return {
    createToken(name) {
      const token = TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url')
      const record: TokenRecord = {
        id: randomUUID(),
        name,
        createdAt: clock.now(),
        lastUsedAt: null,
        revokedAt: null,
      }
      sql('INSERT INTO tokens (id, name, hash, created_at) VALUES (?, ?, ?, ?)').run(
        record.id,
        name,
        hashToken(token),
        record.createdAt,
      )
      return { record, token }
    },
    listTokens: () => (sql('SELECT * FROM tokens ORDER BY created_at, id').all() as Row[]).map(toToken),
    // True when the token exists; revoking twice keeps the first revocation time.
    revokeToken: (id) =>
      sql('UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(clock.now(), id)
        .changes > 0,
    verifyToken(token) {
      // The shape check first: anything else (empty, huge, another scheme) is never hashed.
      if (!TOKEN_SHAPE.test(token)) return undefined
      const hash = hashToken(token)
      // The lookup by hash leaks no timing an attacker can use (they do not choose the hash's
      // bytes); the constant-time comparison after it is defence in depth, not the check itself.
      const row = sql('SELECT id, hash, revoked_at FROM tokens WHERE hash = ?').get(hash) as Row | undefined
      if (row === undefined) return undefined
      const r = readRow('tokens', row)
      const [stored, given] = [Buffer.from(r.text('hash'), 'utf8'), Buffer.from(hash, 'utf8')]
      if (stored.length !== given.length || !timingSafeEqual(stored, given)) return undefined
      if (r.intOrNull('revoked_at') !== null) return undefined
      const id = r.text('id')
      sql('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(clock.now(), id)
      return byId(id)
    },
  }
}

function toToken(row: Row): TokenRecord {
  const r = readRow('tokens', row)
  return {
    id: r.text('id'),
    name: r.text('name'),
    createdAt: r.int('created_at'),
    lastUsedAt: r.intOrNull('last_used_at'),
    revokedAt: r.intOrNull('revoked_at'),
  }
}
