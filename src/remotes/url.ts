// Remote URLs in Xen Orchestra's grammar (xen-orchestra-backups.md §8.1), so a remote configured
// in XO can be given to us verbatim: file://, nfs://, smb://, s3://, s3+http://, options as a
// query string of JSON values. Credentials are held as Secret and never printed.
import { isAbsolute, resolve } from 'node:path'
import type { Json } from '../shared/json.ts'
import { RemoteError } from './remote-error.ts'
import { Secret } from './secret.ts'

/** Options of a remote URL (`?useVhdDirectory=true&allowUnauthorized=false`), JSON-decoded. */
export type RemoteUrlOptions = Readonly<Record<string, Json>>

/** A parsed remote URL; `path` is absolute (file, nfs), a share subpath (smb) or `/bucket/dir` (s3). */
export type RemoteUrl =
  | { readonly type: 'file'; readonly path: string; readonly options: RemoteUrlOptions }
  | {
      readonly type: 'nfs'
      readonly host: string
      readonly port?: string
      readonly path: string
      readonly options: RemoteUrlOptions
    }
  | {
      readonly type: 'smb'
      readonly host: string
      readonly path: string
      readonly domain: string
      readonly username: string
      readonly password: Secret
      readonly options: RemoteUrlOptions
    }
  | {
      readonly type: 's3'
      readonly protocol: 'https' | 'http'
      readonly host: string
      readonly path: string
      readonly username: string
      readonly password: Secret
      readonly region?: string
      readonly options: RemoteUrlOptions
    }

// The two regular expressions of XO's parser (§8.1): `host:[port:]path[?opts]` and
// `user:password@domain\\host[\0path][?opts]`.
const NFS = /^([^:]+):(?:(\d+):)?([^:?]+)(\?[^?]*)?$/
const SMB = /^([^:]+):(.+)@([^@]+)\\\\([^\0?]+)(?:\0([^?]*))?(\?[^?]*)?$/

const invalid = (scheme: string, reason: string, hint?: string): RemoteError =>
  // Never echo the URL itself: it may carry a password.
  new RemoteError('INVALID_URL', `invalid ${scheme} remote URL: ${reason}`, {
    details: { scheme, reason, ...(hint === undefined ? {} : { hint }) },
  })

function parseOptions(scheme: string, query: string | undefined): RemoteUrlOptions {
  const options: Record<string, Json> = {}
  for (const pair of (query ?? '').replace(/^\?/, '').split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '))
    const key = decode(eq === -1 ? pair : pair.slice(0, eq))
    const raw = eq === -1 ? '' : decode(pair.slice(eq + 1))
    try {
      // XO stores '' for false in some old remotes (#6270).
      options[key] = raw === '' ? false : (JSON.parse(raw) as Json)
    } catch {
      throw invalid(scheme, `option ${JSON.stringify(key)} is not a JSON value`)
    }
  }
  return options
}

function formatOptions(options: RemoteUrlOptions): string {
  const pairs = Object.entries(options).map(
    ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(JSON.stringify(v))}`,
  )
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`
}

const leadingSlash = (path: string): string => `/${path.replace(/^\/+/, '')}`

/** Path segments without blanks (XO's sanitizePath: trims each segment, drops empty ones). */
const segments = (path: string): string[] =>
  path
    .split('/')
    .map((s) => s.trim())
    .filter((s) => s !== '')

// What follows the credentials of an s3:// URL: host (name or [IPv6]), port, /bucket/dir, query,
// #region. No `@` anywhere: XO percent-encodes option values, so the last `@` of the URL ends the
// credentials, and a secret holding `@`, `#`, `?` or `/` unencoded stays whole in the userinfo
// instead of spilling into the host, path or region, where it would be displayed.
const S3_AFTER_AUTH =
  /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(:\d{1,5})?(\/[^?#@]*)?(\?[^#@]*)?(?:#([A-Za-z0-9_-]*))?$/

function parseS3(scheme: 's3' | 's3+http', rest: string): RemoteUrl {
  const at = rest.lastIndexOf('@')
  const userinfo = at === -1 ? '' : rest.slice(0, at)
  const m = S3_AFTER_AUTH.exec(rest.slice(at + 1))
  if (m === null)
    throw invalid(scheme, `expected ${scheme}://<key>:<secret>@<host>[:<port>]/<bucket>[/<dir>]`)
  const [, hostname = '', port = '', path = '', query, region = ''] = m
  const colon = userinfo.indexOf(':')
  return {
    type: 's3',
    protocol: scheme === 's3' ? 'https' : 'http',
    host: `${hostname}${port}`,
    path: path === '' ? '/' : path,
    username: decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon)),
    password: new Secret(decodeURIComponent(colon === -1 ? '' : userinfo.slice(colon + 1))),
    ...(region === '' ? {} : { region }),
    options: parseOptions(scheme, query),
  }
}

/** Parses a remote URL in XO's grammar; INVALID_URL (without echoing the URL) when malformed. */
export function parseRemoteUrl(url: string): RemoteUrl {
  try {
    return parseUrl(url)
  } catch (error) {
    if (error instanceof URIError)
      throw invalid(url.slice(0, Math.max(0, url.indexOf('://'))) || 'unknown', 'bad %-escape')
    throw error
  }
}

const SCHEMES = 'expected file:///absolute/path, nfs://, smb://, s3:// or s3+http://'

/**
 * Parses a remote as a person types it (command line): a URL as parseRemoteUrl does, or a bare
 * absolute path for a local directory. Stricter than XO's grammar where XO guesses: `file://rel`
 * (XO reads `/rel`) and bare relative paths are refused with the `file:///absolute/path` to write.
 */
export function parseRemoteArgument(text: string, cwd: string = process.cwd()): RemoteUrl {
  const sep = text.indexOf('://')
  if (sep === -1) {
    if (isAbsolute(text)) return { type: 'file', path: text, options: {} }
    // Something with `:` or `@` may be an URL missing its scheme, credentials included: no echo.
    if (/[:@]/.test(text)) throw invalid('unknown', SCHEMES)
    throw invalid('file', 'a local remote needs an absolute path', `write file://${resolve(cwd, text)}`)
  }
  if (text.slice(0, sep) === 'file') {
    // A file URL carries no credentials; its options might (encryptionKey), so they are cut.
    const path = text.slice(sep + 3).split('?')[0] ?? ''
    if (!path.startsWith('/'))
      throw invalid(
        'file',
        `file://${path} is not an absolute path`,
        `write file:///absolute/path, e.g. file://${resolve(cwd, path)}`,
      )
  }
  return parseRemoteUrl(text)
}

function parseUrl(url: string): RemoteUrl {
  const sep = url.indexOf('://')
  const scheme = sep === -1 ? '' : url.slice(0, sep)
  const rest = url.slice(sep + 3)
  if (scheme === 'file') {
    const q = rest.indexOf('?')
    return {
      type: 'file',
      // Early XO clients forgot the leading slash (`file://var/lib/xoa`): it is restored.
      path: leadingSlash(q === -1 ? rest : rest.slice(0, q)),
      options: parseOptions(scheme, q === -1 ? undefined : rest.slice(q)),
    }
  }
  if (scheme === 'nfs') {
    const m = NFS.exec(rest)
    if (m === null) throw invalid(scheme, 'expected nfs://<host>:[<port>:]<path>')
    const [, host = '', port, path = '', query] = m
    return {
      type: 'nfs',
      host,
      ...(port === undefined ? {} : { port }),
      path: leadingSlash(path),
      options: parseOptions(scheme, query),
    }
  }
  if (scheme === 'smb') {
    const m = SMB.exec(rest)
    if (m === null)
      throw invalid(scheme, 'expected smb://<user>:<password>@<domain>\\\\<host>\\<share>[\\0<path>]')
    const [, username = '', password = '', domain = '', host = '', path = '', query] = m
    return {
      type: 'smb',
      host,
      path,
      domain,
      username,
      password: new Secret(password),
      options: parseOptions(scheme, query),
    }
  }
  if (scheme === 's3' || scheme === 's3+http') return parseS3(scheme, rest)
  throw invalid(scheme === '' ? 'unknown' : scheme, SCHEMES)
}

/** Formats a remote URL in XO's canonical form (inverse of parseRemoteUrl), secrets included. */
export function formatRemoteUrl(url: RemoteUrl): string {
  return formatWith(url, (secret) => secret.reveal())
}

/** The URL for display: passwords and secret-looking options (keys, tokens) are `***`. */
export function redactRemoteUrl(url: RemoteUrl): string {
  const options = Object.fromEntries(
    Object.entries(url.options).map(([k, v]) => [k, /key|secret|password|token/i.test(k) ? '***' : v]),
  )
  return formatWith({ ...url, options }, () => '***')
}

function formatWith(url: RemoteUrl, secret: (s: Secret) => string): string {
  const path = segments(url.path)
  const options = formatOptions(url.options)
  switch (url.type) {
    case 'file':
      return `file:///${path.join('/')}${options}`
    case 'nfs':
      return `nfs://${url.host}:${url.port === undefined ? '' : `${url.port}:`}/${path.join('/')}${options}`
    case 'smb':
      // XO joins the share subpath with backslashes after a NUL (§8.1); kept for compatibility.
      return `smb://${url.username}:${secret(url.password)}@${url.domain}\\\\${url.host}\0${path.join('\\')}${options}`
    case 's3': {
      const scheme = url.protocol === 'https' ? 's3' : 's3+http'
      // Without credentials (an anonymous or environment-authenticated bucket) there is nothing
      // to hide, and `:***@` would suggest a secret that does not exist.
      const user = encodeURIComponent(url.username)
      const pass = url.password.reveal() === '' ? '' : `:${encodeURIComponent(secret(url.password))}`
      const auth = user === '' && pass === '' ? '' : `${user}${pass}@`
      return `${scheme}://${auth}${url.host}/${path.join('/')}${options}${url.region === undefined ? '' : `#${url.region}`}`
    }
  }
}
