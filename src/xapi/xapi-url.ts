import { BackupError } from '../shared/errors.ts'

/** A pool URL split into the address and the credentials it carried. */
export type ParsedXapiUrl = { readonly url: URL; readonly user?: string; readonly password?: string }

/** Parses `https://[user:password@]host[:port]` (scheme defaults to https, xapi.md §1.1) and strips the credentials. */
export function parseXapiUrl(text: string): ParsedXapiUrl {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`)
  } catch {
    throw new BackupError(
      'XAPI_BAD_URL',
      `XAPI url: expected http(s)://host[:port], got ${JSON.stringify(text.replace(/\/\/[^/@]*@/, '//'))}`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BackupError(
      'XAPI_BAD_URL',
      `XAPI url: expected the http: or https: scheme, got ${url.protocol}`,
    )
  }
  const user = url.username === '' ? undefined : decodeURIComponent(url.username)
  const password = url.password === '' ? undefined : decodeURIComponent(url.password)
  const clean = new URL(`${url.protocol}//${url.host}/`)
  return {
    url: clean,
    ...(user === undefined ? {} : { user }),
    ...(password === undefined ? {} : { password }),
  }
}

/**
 * The URL of the master named by `HOST_IS_SLAVE [address]` (xapi.md §1.4): same scheme, the
 * address as host (bare IPv6 bracketed), the address's own port if it has one, else the current port.
 */
export function urlOfMaster(current: URL, address: string): URL {
  const colons = address.split(':').length - 1
  const host = colons > 1 && !address.startsWith('[') ? `[${address}]` : address
  const hasPort = /\]:\d+$/.test(host) || (colons === 1 && /:\d+$/.test(host))
  const port = hasPort || current.port === '' ? '' : `:${current.port}`
  return new URL(`${current.protocol}//${host}${port}/`)
}
