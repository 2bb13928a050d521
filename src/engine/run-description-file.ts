// The effectful edges of the run description: reading its file and the credential files it names,
// both bounded, and resolving every credential source into a Credential (ADR 0008).
import { open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Credential, CredentialReader, CredentialSource } from './credentials.ts'
import { resolveCredential } from './credentials.ts'
import { MAX_DESCRIPTION_BYTES, decodeDescription } from './description-text.ts'
import type { XapiDescription } from './connections.ts'
import { hasRemoteUrlScheme } from './connections.ts'
import type { CheckedRunDescription, RunDescription } from './run-description.ts'
import { parseRunDescription } from './run-description.ts'
import { RunDescriptionError, formatPath, inFile } from './run-description-error.ts'

/** Largest credential file: a password, a key or a token, not a document. */
export const MAX_CREDENTIAL_FILE_BYTES = 64 * 1024

/**
 * Reads at most `maxBytes` of a regular file; a longer file rejects with code TOO_LARGE, a
 * directory or device with NOT_REGULAR, other failures with the system code (ENOENT, EACCES…).
 */
export async function readBoundedFile(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw Object.assign(new Error(`${path}: not a regular file`), { code: 'NOT_REGULAR' })
    const buffer = new Uint8Array(maxBytes + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > maxBytes)
        throw Object.assign(new Error(`${path}: larger than ${maxBytes} bytes`), { code: 'TOO_LARGE' })
    }
    return buffer.subarray(0, length)
  } finally {
    await handle.close()
  }
}

/**
 * Reads, parses and checks a run description file (JSON if it ends in .json, else YAML); a file
 * that cannot be read gives RUN_DESCRIPTION_SYNTAX naming it and the reason.
 */
export async function readRunDescriptionFile(path: string): Promise<CheckedRunDescription> {
  let bytes: Uint8Array
  try {
    bytes = await readBoundedFile(path, MAX_DESCRIPTION_BYTES)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'TOO_LARGE'
          ? `larger than ${MAX_DESCRIPTION_BYTES} bytes`
          : `cannot be read (${String(code)})`
    throw new RunDescriptionError('RUN_DESCRIPTION_SYNTAX', `${path}: ${reason}`, {
      details: { file: path, problem: reason },
    })
  }
  return parseRunDescription(decodeDescription(bytes, path), path)
}

/**
 * The real environment and file system as a CredentialReader: relative credential file paths
 * are taken from `baseDir` (the run description's directory), text is UTF-8, files are bounded.
 * Paths come from the user's own description, not from stored data, so no confinement applies.
 */
export function nodeCredentialReader(
  baseDir: string,
  env: Readonly<Record<string, string | undefined>>,
): CredentialReader {
  return {
    env,
    readFile: async (path) =>
      new TextDecoder().decode(await readBoundedFile(resolve(baseDir, path), MAX_CREDENTIAL_FILE_BYTES)),
  }
}

/** The directory relative credential files of the description at `path` are read from. */
export function credentialBaseDir(path: string): string {
  return dirname(resolve(path))
}

/**
 * Resolves every credential of `description` (XAPI usernames and passwords, remote URLs) in
 * document order; the first unavailable one throws CREDENTIAL_UNAVAILABLE naming its field. Remote
 * URLs from env/file get the same scheme check as literal ones. `file` prefixes error messages.
 */
export async function resolveRunCredentials(
  description: RunDescription,
  reader: CredentialReader,
  file?: string,
): Promise<RunDescription<Credential>> {
  try {
    return await resolveAll(description, reader)
  } catch (error) {
    throw error instanceof RunDescriptionError ? inFile(error, file) : error
  }
}

async function resolveAll(
  description: RunDescription,
  reader: CredentialReader,
): Promise<RunDescription<Credential>> {
  const xapis = new Map<string, XapiDescription<Credential>>()
  for (const [id, xapi] of description.xapis) {
    const at = (field: string): string[] => ['xapis', id, 'credentials', field]
    const credentials = {
      username: await resolveCredential(xapi.credentials.username, at('username'), reader),
      password: await resolveCredential(xapi.credentials.password, at('password'), reader),
    }
    xapis.set(id, { ...xapi, credentials })
  }
  const remotes = new Map<string, { url: Credential }>()
  for (const [id, remote] of description.remotes) {
    const url = await resolveCredential(remote.url, ['remotes', id, 'url'], reader)
    checkResolvedRemoteUrl(remote.url, url, id)
    remotes.set(id, { url })
  }
  return { ...description, xapis, remotes }
}

function checkResolvedRemoteUrl(source: CredentialSource, url: Credential, id: string): void {
  if (source.kind === 'literal' || hasRemoteUrlScheme(url.reveal())) return
  const where = formatPath(['remotes', id, 'url'])
  const from =
    source.kind === 'env' ? `environment variable ${source.name}` : `file ${JSON.stringify(source.path)}`
  throw new RunDescriptionError(
    'RUN_DESCRIPTION_INVALID',
    `${where}: ${from} does not hold a remote URL (file://, nfs://, smb://, s3:// or s3+http://)`,
    {
      details: { path: where, expected: 'a remote URL', got: `the content of ${from} (hidden)` },
    },
  )
}
