import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BackupError } from '../shared/errors.ts'
import type { TlsMaterial } from './server.ts'

const run = promisify(execFile)

/** `--tls` needs the `openssl` command to make its self-signed certificate and it is missing or failed. */
export class TlsSetupError extends BackupError<'SIMULATOR_TLS_UNAVAILABLE'> {}

/**
 * Generates a self-signed certificate for `host` with the `openssl` command (node:crypto cannot
 * sign X.509 certificates); the certificate is its own CA, so clients trust `certPem`.
 */
export async function generateSelfSignedCertificate(host: string): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'xapi-sim-tls-'))
  try {
    const keyPath = join(dir, 'key.pem')
    const certPath = join(dir, 'cert.pem')
    const altName = /^[\d.]+$/.test(host) || host.includes(':') ? `IP:${host}` : `DNS:${host}`
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '30',
      '-subj', `/CN=${host}`, '-addext', `subjectAltName=${altName},DNS:localhost,IP:127.0.0.1`,
    ]) // prettier-ignore
    return { keyPem: await readFile(keyPath, 'utf8'), certPem: await readFile(certPath, 'utf8') }
  } catch (error) {
    throw new TlsSetupError(
      'SIMULATOR_TLS_UNAVAILABLE',
      `cannot create a self-signed certificate with openssl (install openssl or run without --tls): ${(error as Error).message}`,
      { cause: error },
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
