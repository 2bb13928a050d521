import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** s3rver's fixed access key id, which is also its secret key (its documented default). */
const S3_TEST_ACCESS_KEY = 'S3RVER'

/** A running s3rver child process with one bucket. */
export interface S3rverInstance {
  readonly endpoint: string
  readonly bucket: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  stop(): Promise<void>
}

/** True when the s3rver devDependency is installed. */
export function hasS3rver(): boolean {
  try {
    createRequire(import.meta.url).resolve('s3rver')
    return true
  } catch {
    return false
  }
}

/**
 * Starts s3rver in a child process (`node --openssl-legacy-provider`, so the test process needs no
 * flag) on a free port with a temp directory, and resolves once it listens; `stop` ends the child
 * and removes the directory.
 */
export async function startS3rver(bucket = 'test-bucket'): Promise<S3rverInstance> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'))
  const launcher = new URL('./s3rver-launcher.mjs', import.meta.url).pathname
  const child = spawn(process.execPath, ['--openssl-legacy-provider', launcher, directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve()
    })
  })
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.once('line', (first) => {
      lines.close()
      resolve(first)
    })
    child.once('exit', (code) => {
      reject(new Error(`s3rver exited with ${String(code)} before listening`))
    })
  })
  const { port } = JSON.parse(line) as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: S3_TEST_ACCESS_KEY,
    secretAccessKey: S3_TEST_ACCESS_KEY,
    async stop() {
      child.stdin.end()
      await exited
      await rm(directory, { recursive: true, force: true })
    },
  }
}
