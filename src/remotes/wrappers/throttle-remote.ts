import { Readable } from 'node:stream'
import type { Clock } from '../../shared/clock.ts'
import { throttle } from '../../shared/streams.ts'
import { sourceChunks } from '../byte-streams.ts'
import type { Remote } from '../remote.ts'
import { wrapRemote } from './wrap-remote.ts'

/** Rates of withThrottle; an absent rate is unlimited. */
export interface ThrottleRates {
  readonly readBytesPerSec?: number
  readonly writeBytesPerSec?: number
  readonly clock?: Clock
}

// Large chunks are cut so the token bucket paces smoothly instead of sleeping in big steps.
const SLICE_BYTES = 256 << 10

async function* sliced(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    for (let offset = 0; offset < chunk.byteLength; offset += SLICE_BYTES) {
      yield chunk.subarray(offset, offset + SLICE_BYTES)
    }
  }
}

/**
 * Limits the bytes per second of each read and each write stream of `inner` with the shared
 * token-bucket `throttle` stage (per stream: combine with withConcurrencyLimit to bound the total).
 */
export function withThrottle(inner: Remote, rates: ThrottleRates): Remote {
  const { readBytesPerSec, writeBytesPerSec, clock } = rates
  const stage = (rate: number, signal: AbortSignal | undefined) =>
    throttle(rate, { ...(clock === undefined ? {} : { clock }), ...(signal === undefined ? {} : { signal }) })
  return wrapRemote(inner, {
    ...(readBytesPerSec === undefined
      ? {}
      : {
          read: async (path, options) => {
            const stream = await inner.read(path, options)
            return Readable.from(stage(readBytesPerSec, options?.signal)(sliced(stream)), {
              objectMode: false,
            })
          },
        }),
    ...(writeBytesPerSec === undefined
      ? {}
      : {
          write: (path, source, options) =>
            inner.write(
              path,
              stage(writeBytesPerSec, options?.signal)(sliced(sourceChunks(source))),
              options,
            ),
        }),
  })
}
