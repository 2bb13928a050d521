import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import { readAll } from '../byte-streams.ts'
import { describeRemoteConformance, patternBytes } from '../testing/conformance.ts'
import { MemoryRemote } from '../testing/memory-remote.ts'
import { withThrottle } from './throttle-remote.ts'

describeRemoteConformance('withThrottle(memory)', (clock) =>
  Promise.resolve({
    remote: withThrottle(new MemoryRemote({ clock }), {
      clock,
      readBytesPerSec: 1 << 30,
      writeBytesPerSec: 1 << 30,
    }),
  }),
)

describe('withThrottle', () => {
  it('paces writes and reads to the rate (time from the injected clock) and keeps the bytes intact', async () => {
    const clock = createFixedClock()
    const inner = new MemoryRemote({ clock })
    const remote = withThrottle(inner, { clock, writeBytesPerSec: 256 << 10, readBytesPerSec: 512 << 10 })
    const data = patternBytes(1 << 20)
    await remote.write('f', data)
    // 1 MiB at 256 KiB/s with a one-second burst: 3 s of waiting.
    assert.ok(Math.abs(clock.sleptMs - 3000) < 1, `slept ${clock.sleptMs} ms`)
    assert.ok(inner.files.get('f')?.data.equals(data), "inner.files.get('f')?.data.equals(data)")
    const before = clock.sleptMs
    assert.ok((await readAll(remote, 'f')).equals(data), "(await readAll(remote, 'f')).equals(data)")
    assert.ok(Math.abs(clock.sleptMs - before - 1000) < 1, `slept ${clock.sleptMs - before} ms`)
  })

  it('leaves an unthrottled direction alone', async () => {
    const clock = createFixedClock()
    const remote = withThrottle(new MemoryRemote({ clock }), { clock, readBytesPerSec: 1024 })
    await remote.write('f', patternBytes(1 << 20))
    assert.equal(clock.sleptMs, 0)
  })
})
