import { createHash, randomBytes } from 'node:crypto'
import type { Clock } from '../shared/clock.ts'
import { serializeError } from '../shared/errors.ts'
import type { JsonObject } from '../shared/json.ts'
import { isRemoteError } from './remote-error.ts'
import type { Remote, RemoteInfo } from './remote.ts'

/** What `testRemote` measured; on failure, the step that failed and its error. */
export type RemoteTestResult =
  | {
      readonly success: true
      readonly path: string
      readonly sizeBytes: number
      readonly writeMs: number
      readonly readMs: number
      readonly writeBytesPerSec: number
      readonly readBytesPerSec: number
      readonly sha256: string
      readonly info: RemoteInfo
    }
  | {
      readonly success: false
      readonly path: string
      readonly step: RemoteTestStep
      readonly error: JsonObject
      /** Set when the test file could not be removed after the failure. */
      readonly cleanupError?: JsonObject
    }

/** Steps of the remote test, in order. */
export type RemoteTestStep = 'write' | 'stat' | 'read' | 'verify' | 'range' | 'delete' | 'info'

const CHUNK_BYTES = 1 << 20

async function* randomChunks(
  sizeBytes: number,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < sizeBytes; done += CHUNK_BYTES) {
    const chunk = randomBytes(Math.min(CHUNK_BYTES, sizeBytes - done))
    hash.update(chunk)
    yield await Promise.resolve(chunk)
  }
}

const rate = (bytes: number, ms: number): number => (ms > 0 ? Math.round((bytes * 1000) / ms) : 0)

class StepError extends Error {
  constructor(
    readonly step: RemoteTestStep,
    readonly error: unknown,
  ) {
    super(step)
  }
}

async function step<T>(name: RemoteTestStep, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw new StepError(name, error)
  }
}

/**
 * Checks a remote end to end (XO's handler `test()`): writes `sizeBytes` of random data, stats it,
 * reads it back and compares SHA-256, reads a range, deletes it and checks it is gone; times the
 * write and the read with `clock`. Never throws: a failure names its step. The file is removed
 * even when a later step fails.
 */
export async function testRemote(
  remote: Remote,
  options: { sizeBytes: number; clock: Clock },
): Promise<RemoteTestResult> {
  const { sizeBytes, clock } = options
  const path = `.xapi-backup-test-${randomBytes(6).toString('hex')}.bin`
  let written = false
  try {
    const hash = createHash('sha256')
    let start = clock.now()
    await step('write', () => remote.write(path, randomChunks(sizeBytes, hash), { sizeBytes }))
    written = true
    const writeMs = clock.now() - start
    const expected = hash.digest('hex')
    const { sizeBytes: stored } = await step('stat', () => remote.stat(path))
    if (stored !== sizeBytes)
      throw new StepError('stat', new Error(`stat says ${stored} bytes, wrote ${sizeBytes}`))
    start = clock.now()
    const readHash = createHash('sha256')
    await step('read', async () => {
      for await (const chunk of await remote.read(path)) readHash.update(chunk as Uint8Array)
    })
    const readMs = clock.now() - start
    const sha256 = readHash.digest('hex')
    if (sha256 !== expected)
      throw new StepError('verify', new Error(`read back sha256 ${sha256}, wrote ${expected}`))
    await step('range', () => checkRange(remote, path, sizeBytes))
    await step('delete', () => remote.delete(path))
    written = false
    await step('delete', async () => {
      const gone = await remote.stat(path).then(
        () => false,
        (error: unknown) => isRemoteError(error, 'NOT_FOUND'),
      )
      if (!gone) throw new Error(`${path} is still there after delete`)
    })
    const info = await step('info', () => remote.info())
    return {
      success: true,
      path,
      sizeBytes,
      writeMs,
      readMs,
      writeBytesPerSec: rate(sizeBytes, writeMs),
      readBytesPerSec: rate(sizeBytes, readMs),
      sha256,
      info,
    }
  } catch (error) {
    const failed = error instanceof StepError ? error : new StepError('write', error)
    const result = { success: false as const, path, step: failed.step, error: serializeError(failed.error) }
    if (!written) return result
    try {
      await remote.delete(path)
      return result
    } catch (cleanup) {
      return { ...result, cleanupError: serializeError(cleanup) }
    }
  }
}

async function checkRange(remote: Remote, path: string, sizeBytes: number): Promise<void> {
  const start = Math.floor(sizeBytes / 3)
  const end = Math.min(sizeBytes, start + 4096)
  let got = 0
  for await (const chunk of await remote.read(path, { start, end })) got += (chunk as Uint8Array).byteLength
  if (got !== end - start) throw new Error(`range [${start}, ${end}) gave ${got} bytes`)
}
