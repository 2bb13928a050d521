import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Json, JsonObject } from '../shared/json.ts'
import { MAX_REDACT_DEPTH, NESTED_TOO_DEEP, REDACTED, isSecretKey, redact, redactText } from './redact.ts'

describe('redact', () => {
  it('replaces secret-named fields at any depth, including whole credential objects', () => {
    const input = {
      xapis: {
        pool1: {
          url: 'https://pool1.example',
          allowUnauthorized: false,
          credentials: { username: 'root', password: 'hunter2' },
        },
      },
      remotes: { r: { url: 's3://AKIA:wJalrXUtnFEMI@s3.example/bucket', secretAccessKey: 'wJalrXUtnFEMI' } },
      session_id: 'OpaqueRef:1234',
      headers: [{ Authorization: 'Bearer abc' }],
      size: 12,
    }
    const out = JSON.stringify(redact(input))
    for (const secret of ['hunter2', 'wJalrXUtnFEMI', 'OpaqueRef:1234', 'Bearer abc']) {
      assert.equal(out.includes(secret), false, `${secret} leaked: ${out}`)
    }
    assert.match(out, /"username":"root"|"credentials":"\*\*\*\*\*"/)
    assert.match(out, /s3:\/\/AKIA:\*\*\*\*\*@s3\.example\/bucket/)
    assert.match(out, /"size":12/)
    assert.equal(input.xapis.pool1.credentials.password, 'hunter2', 'the input is not modified')
  })

  it('removes secrets from free text: URL passwords and secret query parameters', () => {
    assert.equal(
      redactText('GET https://root:pw@host/export?ref=OpaqueRef:1&session_id=OpaqueRef:abc&x=1 failed'),
      `GET https://root:${REDACTED}@host/export?ref=OpaqueRef:1&session_id=${REDACTED}&x=1 failed`,
    )
    assert.equal(redactText('nfs://server:/export'), 'nfs://server:/export')
    assert.equal(
      redactText('https://h/x?user=a&password=s3cret#top'),
      `https://h/x?user=a&password=${REDACTED}#top`,
    )
    for (const key of ['token', 'secret', 'access_key', 'secret_key', 'api_key'])
      assert.equal(redactText(`u?${key}=v1&x=1`), `u?${key}=${REDACTED}&x=1`, key)
  })

  it('replaces values nested deeper than MAX_REDACT_DEPTH instead of recursing into them', () => {
    let deep: Json = 'leaf'
    for (let i = 0; i < 20_000; i++) deep = [deep]
    let out = redact({ deep })
    let depth = 0
    while (typeof out === 'object' && out !== null) {
      out = Array.isArray(out) ? ((out as Json[])[0] ?? null) : ((out as JsonObject).deep ?? null)
      depth++
    }
    assert.equal(out, NESTED_TOO_DEEP)
    assert.equal(depth, MAX_REDACT_DEPTH)
  })

  it('recognises secret keys in their usual spellings', () => {
    for (const key of [
      'password',
      'Password',
      'sessionId',
      'session_id',
      'secretAccessKey',
      'api-key',
      'dbPassword',
    ]) {
      assert.equal(isSecretKey(key), true, key)
    }
    for (const key of ['username', 'size', 'id', 'passwordlessBoot', 'tokenizer']) {
      assert.equal(isSecretKey(key), false, key)
    }
  })
})
