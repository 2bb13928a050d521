import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseXapiUrl, urlOfMaster } from './xapi-url.ts'

describe('XAPI URLs', () => {
  it('defaults to https, takes credentials out of the URL and rejects other schemes', () => {
    const parsed = parseXapiUrl('root:p%40ss@pool.example:8443')
    assert.equal(parsed.url.href, 'https://pool.example:8443/')
    assert.equal(parsed.user, 'root')
    assert.equal(parsed.password, 'p@ss')
    assert.equal(parseXapiUrl('http://10.0.0.1').user, undefined)
    assert.throws(() => parseXapiUrl('ftp://h'), { code: 'XAPI_BAD_URL' })
    assert.throws(
      () => parseXapiUrl('https://root:hunter2@[bad'),
      (e: Error) => !e.message.includes('hunter2'),
    )
  })

  it('builds the master URL of HOST_IS_SLAVE: IPv4, host:port, bare and bracketed IPv6', () => {
    const current = new URL('https://10.0.0.2:8443/')
    assert.equal(urlOfMaster(current, '10.0.0.1').href, 'https://10.0.0.1:8443/')
    assert.equal(urlOfMaster(current, '10.0.0.1:9000').href, 'https://10.0.0.1:9000/')
    assert.equal(urlOfMaster(current, 'fd00::1').href, 'https://[fd00::1]:8443/')
    assert.equal(urlOfMaster(new URL('http://h/'), '[fd00::1]:81').href, 'http://[fd00::1]:81/')
  })
})
