import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { describe, it } from 'node:test'
import { isRemoteError } from './remote-error.ts'
import { Secret } from './secret.ts'
import { formatRemoteUrl, parseRemoteArgument, parseRemoteUrl, redactRemoteUrl } from './url.ts'
import type { RemoteUrl } from './url.ts'

// The cases of XO's xo-remote-parser round-trip table (xen-orchestra-backups.md §10), written
// for our shape: options live under `options`, passwords are Secrets (compared revealed).
const SMB = 'smb://Administrator:pas:sw@ord@toto\\\\192.168.100.225\\smb\0'
const S3 = 's3://AKIAS:XSuBupZ0mJlu%2B@s3-us-west-2.amazonaws.com/test-bucket/dir'
const smb = {
  type: 'smb',
  host: '192.168.100.225\\smb',
  path: '',
  domain: 'toto',
  username: 'Administrator',
  password: 'pas:sw@ord',
}
const s3 = {
  type: 's3',
  protocol: 'https',
  host: 's3-us-west-2.amazonaws.com',
  path: '/test-bucket/dir',
  username: 'AKIAS',
  password: 'XSuBupZ0mJlu+',
}
const s3http = {
  type: 's3',
  protocol: 'http',
  host: '192.168.100.225',
  path: '/bucket/dir',
  username: 'Administrator',
  password: 'password',
}

const roundTrip: Record<string, [string, object]> = {
  file: ['file:///var/lib/xoa/backup', { type: 'file', path: '/var/lib/xoa/backup', options: {} }],
  'file with use vhd directory': [
    'file:///var/lib/xoa/backup?useVhdDirectory=true',
    { type: 'file', path: '/var/lib/xoa/backup', options: { useVhdDirectory: true } },
  ],
  SMB: [SMB, { ...smb, options: {} }],
  'smb with directory': [`${SMB}?useVhdDirectory=true`, { ...smb, options: { useVhdDirectory: true } }],
  'smb with a subpath': [
    'smb://u:p@dom\\\\host\\share\0backups\\xo',
    {
      type: 'smb',
      host: 'host\\share',
      path: 'backups\\xo',
      domain: 'dom',
      username: 'u',
      password: 'p',
      options: {},
    },
  ],
  NFS: [
    'nfs://192.168.100.225:/media/nfs',
    { type: 'nfs', host: '192.168.100.225', path: '/media/nfs', options: {} },
  ],
  'nfs with port': [
    'nfs://192.168.100.225:20:/media/nfs',
    { type: 'nfs', host: '192.168.100.225', port: '20', path: '/media/nfs', options: {} },
  ],
  'nfs with vhdDirectory': [
    'nfs://192.168.100.225:20:/media/nfs?useVhdDirectory=true',
    {
      type: 'nfs',
      host: '192.168.100.225',
      port: '20',
      path: '/media/nfs',
      options: { useVhdDirectory: true },
    },
  ],
  S3: [`${S3}?allowUnauthorized=false`, { ...s3, options: { allowUnauthorized: false } }],
  's3 accepting self signed': [
    `${S3}?allowUnauthorized=true`,
    { ...s3, options: { allowUnauthorized: true } },
  ],
  'S3 with brotli': [
    's3+http://Administrator:password@192.168.100.225/bucket/dir?compressionType=%22brotli%22&compressionOptions=%7B%22level%22%3A1%7D#reg1',
    { ...s3http, region: 'reg1', options: { compressionType: 'brotli', compressionOptions: { level: 1 } } },
  ],
}

const parseOnly: Record<string, [string, object]> = {
  'file with missing leading slash (#7)': [
    'file://var/lib/xoa/backup',
    { type: 'file', path: '/var/lib/xoa/backup', options: {} },
  ],
  'nfs with missing leading slash': [
    'nfs://192.168.100.225:media/nfs',
    { type: 'nfs', host: '192.168.100.225', path: '/media/nfs', options: {} },
  ],
  'SMB with missing path': [
    'smb://Administrator:pas:sw@ord@toto\\\\192.168.100.225\\smb',
    { ...smb, options: {} },
  ],
  'S3 with http and region': [
    's3+http://Administrator:password@192.168.100.225/bucket/dir#reg1',
    { ...s3http, region: 'reg1', options: {} },
  ],
  'S3 accepting self signed certificate': [
    's3+http://Administrator:password@192.168.100.225/bucket/dir?allowUnauthorized=true#reg1',
    { ...s3http, region: 'reg1', options: { allowUnauthorized: true } },
  ],
  's3 with empty region': [`${S3}#`, { ...s3, options: {} }],
  "'' option means false (#6270)": [
    'file:///b?useVhdDirectory=',
    { type: 'file', path: '/b', options: { useVhdDirectory: false } },
  ],
}

const revealed = (url: RemoteUrl): object =>
  Object.fromEntries(
    Object.entries(url).map(([k, v]) => [k, v instanceof Secret ? v.reveal() : (v as unknown)]),
  )

function fromPlain(object: object): RemoteUrl {
  const o = object as Record<string, unknown>
  return (typeof o.password === 'string' ? { ...o, password: new Secret(o.password) } : o) as RemoteUrl
}

describe('remote URLs (XO grammar)', () => {
  for (const [name, [text, object]] of Object.entries({ ...roundTrip, ...parseOnly })) {
    it(`parses ${name}`, () => {
      assert.deepEqual(revealed(parseRemoteUrl(text)), object)
    })
  }
  for (const [name, [text, object]] of Object.entries(roundTrip)) {
    it(`formats ${name}`, () => {
      assert.equal(formatRemoteUrl(fromPlain(object)), text)
      assert.equal(formatRemoteUrl(parseRemoteUrl(text)), text)
    })
  }

  it('keeps credentials out of display forms, JSON, inspect and errors', () => {
    const url = parseRemoteUrl('s3://AKIAS:sup3r%2Fs3cret@host/bucket/dir?encryptionKey=%22k%22#r')
    assert.equal(redactRemoteUrl(url), 's3://AKIAS:***@host/bucket/dir?encryptionKey=%22***%22#r')
    assert.doesNotMatch(JSON.stringify(url), /s3cret/)
    assert.doesNotMatch(inspect(url, { depth: 5 }), /s3cret/)
    assert.doesNotMatch(String(url.type === 's3' ? url.password : ''), /s3cret/)
    const smbUrl = parseRemoteUrl('smb://u:hunter2@d\\\\h\\s\0')
    assert.equal(redactRemoteUrl(smbUrl), 'smb://u:***@d\\\\h\\s\0')
    for (const bad of [
      'smb://u:hunter2@nodomain',
      'ftp://u:hunter2@x/',
      's3://u:hunter2%@host/b',
      'nfs://host:1:2:3',
      'file:///x?a={',
    ]) {
      assert.throws(
        () => parseRemoteUrl(bad),
        (error: unknown) =>
          isRemoteError(error, 'INVALID_URL') &&
          !JSON.stringify(error).includes('hunter2') &&
          !(error as Error).message.includes('hunter2'),
        bad,
      )
    }
  })
})

describe('remote URLs: secrets with reserved characters, no credentials, command-line forms', () => {
  const SECRET = 'Se#cR?eT/x@y'
  const FRAGMENTS = ['Se#cR', 'cR?eT', 'eT/x', 'x@y', '#cR', '?eT']
  const shown = (url: RemoteUrl): string => `${redactRemoteUrl(url)} ${JSON.stringify(url)} ${inspect(url)}`

  it('keeps an unencoded secret holding # ? / @ whole, out of host, path, region and display', () => {
    const url = parseRemoteUrl(`s3://KEY:${SECRET}@host.example:9000/bucket/dir?forcePathStyle=true#eu-1`)
    assert.deepEqual(revealed(url), {
      type: 's3',
      protocol: 'https',
      host: 'host.example:9000',
      path: '/bucket/dir',
      username: 'KEY',
      password: SECRET,
      region: 'eu-1',
      options: { forcePathStyle: true },
    })
    for (const fragment of FRAGMENTS) assert.ok(!shown(url).includes(fragment), fragment)
    const plain = parseRemoteUrl('s3://KEY:SE#CR?ET@host/bucket')
    assert.equal(redactRemoteUrl(plain), 's3://KEY:***@host/bucket')
  })

  it('refuses a malformed s3 URL without echoing any part of it', () => {
    for (const bad of [
      `s3://KEY:${SECRET}@`,
      `s3://KEY:${SECRET}@bad host/b`,
      `s3://KEY:${SECRET}@h/b?x=%ZZ`,
    ]) {
      assert.throws(
        () => parseRemoteUrl(bad),
        (error: unknown) =>
          isRemoteError(error, 'INVALID_URL') &&
          FRAGMENTS.every((f) => !JSON.stringify(error).includes(f) && !(error as Error).message.includes(f)),
        bad,
      )
    }
  })

  it('shows an s3 URL without credentials as it is, without :***@', () => {
    const anonymous = parseRemoteUrl('s3+http://127.0.0.1:9000/bucket/dir')
    assert.equal(redactRemoteUrl(anonymous), 's3+http://127.0.0.1:9000/bucket/dir')
    assert.equal(formatRemoteUrl(anonymous), 's3+http://127.0.0.1:9000/bucket/dir')
    assert.equal(redactRemoteUrl(parseRemoteUrl('s3://KEY@host/b')), 's3://KEY@host/b')
    assert.equal(redactRemoteUrl(parseRemoteUrl('s3://KEY:s@host/b')), 's3://KEY:***@host/b')
  })

  it('on the command line: a bare absolute path is a local folder, file://relative is refused with the form to write', () => {
    assert.deepEqual(parseRemoteArgument('/srv/backups'), { type: 'file', path: '/srv/backups', options: {} })
    assert.equal(parseRemoteArgument('file:///srv/b?useVhdDirectory=true').type, 'file')
    for (const [text, hint] of [
      ['file://backups', 'file:///absolute/path, e.g. file:///home/me/backups'],
      ['file://./b?encryptionKey=%22k3y%22', 'file:///absolute/path, e.g. file:///home/me/b'],
      ['backups', 'file:///home/me/backups'],
    ] as const) {
      assert.throws(
        () => parseRemoteArgument(text, '/home/me'),
        (error: unknown) =>
          isRemoteError(error, 'INVALID_URL') &&
          (error.details?.hint as string).endsWith(hint) &&
          !JSON.stringify(error).includes('k3y'),
        text,
      )
    }
    // Without a scheme but with credentials: refused, and nothing of it is echoed.
    assert.throws(
      () => parseRemoteArgument('KEY:hunter2@host/bucket'),
      (error: unknown) => isRemoteError(error, 'INVALID_URL') && !JSON.stringify(error).includes('hunter2'),
    )
    // XO's own grammar still restores the slash early XO clients forgot (stored remotes).
    assert.equal(parseRemoteUrl('file://var/lib/xoa').type === 'file', true)
  })
})
