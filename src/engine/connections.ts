// The connection parts of a run description: xapis (pool masters and their credentials) and
// remotes (URLs, which may carry credentials, so they are credential sources too; ADR 0008).
import type { CredentialSource } from './credentials.ts'
import { checkCredentialSource } from './credentials.ts'
import { booleanAt, fieldOf, objectAt, rejectUnknownFields, stringAt } from './fields.ts'
import type { FieldPath } from './run-description-error.ts'
import { invalidRelation } from './run-description-error.ts'

/** How to reach one XAPI (a pool master). */
export interface XapiDescription<C> {
  readonly url: string
  readonly allowUnauthorized: boolean
  readonly credentials: { readonly username: C; readonly password: C }
}

// Remote URL schemes of XO's grammar (reference §8.1). Only the scheme is checked here: the full
// parser (src/remotes/url.ts) is not a contract the engine layer may import; the app parses it.
const REMOTE_SCHEME = /^(file|nfs|smb|s3|s3\+http):\/\/./

/** True when `url` starts with a scheme of XO's remote URL grammar (the rest is the app's to parse). */
export const hasRemoteUrlScheme = (url: string): boolean => REMOTE_SCHEME.test(url)

const SCHEME = /^([a-z][a-z0-9+.-]{0,15}):\/\//i
const urlGot = (url: unknown): string => {
  const scheme = typeof url === 'string' ? SCHEME.exec(url)?.[1] : undefined
  return scheme === undefined ? 'a string (value hidden)' : `a URL with scheme "${scheme}" (rest hidden)`
}

/** Checks one entry of remotes: `{url}`, the URL a credential source; a literal's scheme is checked. */
export function checkRemote(value: unknown, path: FieldPath): { url: CredentialSource } {
  const remote = objectAt(value, path, '{url: …}')
  rejectUnknownFields(remote, path, ['url'])
  const url = checkCredentialSource(fieldOf(remote, 'url'), [...path, 'url'])
  if (url.kind === 'literal' && !hasRemoteUrlScheme(url.value.reveal()))
    throw invalidRelation(
      [...path, 'url'],
      'a remote URL file://, nfs://, smb://, s3:// or s3+http://',
      urlGot(url.value.reveal()),
    )
  return { url }
}

/** Checks one entry of xapis: `{url, allowUnauthorized?, credentials: {username, password}}`. */
export function checkXapi(value: unknown, path: FieldPath): XapiDescription<CredentialSource> {
  const xapi = objectAt(value, path, '{url, credentials: {username, password}}')
  rejectUnknownFields(xapi, path, ['url', 'allowUnauthorized', 'credentials'])
  const url = fieldOf(xapi, 'url')
  let parsed: URL | undefined
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined
  } catch {
    parsed = undefined
  }
  if (
    parsed === undefined ||
    (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') ||
    parsed.hostname === ''
  )
    throw invalidRelation(
      [...path, 'url'],
      'the URL of the pool master, https://host or http://host',
      url === undefined ? 'nothing' : urlGot(url),
    )
  if (parsed.username !== '' || parsed.password !== '')
    throw invalidRelation(
      [...path, 'url'],
      'a URL without user or password (they go in credentials)',
      'a URL with a user part',
    )
  const credentialsPath = [...path, 'credentials']
  const credentials = objectAt(fieldOf(xapi, 'credentials'), credentialsPath, '{username, password}')
  rejectUnknownFields(credentials, credentialsPath, ['username', 'password'])
  return {
    url: stringAt(url, [...path, 'url']),
    allowUnauthorized: booleanAt(fieldOf(xapi, 'allowUnauthorized'), [...path, 'allowUnauthorized'], false),
    credentials: {
      username: checkCredentialSource(fieldOf(credentials, 'username'), [...credentialsPath, 'username']),
      password: checkCredentialSource(fieldOf(credentials, 'password'), [...credentialsPath, 'password']),
    },
  }
}
