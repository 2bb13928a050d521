import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createManualClock } from './manual-clock.ts'

describe('createManualClock', () => {
  it('a sleep ends only when advance passes it, in any order; time does not move by itself', async () => {
    const clock = createManualClock(1000)
    const ended: string[] = []
    const long = clock.sleep(50).then(() => ended.push('long'))
    const short = clock.sleep(10).then(() => ended.push('short'))
    assert.equal(clock.sleepers, 2)
    clock.advance(9)
    await Promise.resolve()
    assert.deepEqual(ended, [], 'nothing ends before its time')
    clock.advance(1)
    await short
    assert.deepEqual(ended, ['short'])
    assert.equal(clock.now(), 1010)
    clock.advance(40)
    await long
    assert.deepEqual(ended, ['short', 'long'])
    assert.equal(clock.sleepers, 0)
    await clock.sleep(0)
    assert.equal(clock.now(), 1050, 'a zero sleep ends at once without moving time')
  })

  it('an aborted sleep rejects and is forgotten; advance refuses negative or NaN steps', async () => {
    const clock = createManualClock()
    const controller = new AbortController()
    const sleeping = clock.sleep(100, controller.signal)
    controller.abort(new Error('stop'))
    await assert.rejects(sleeping, /stop/)
    assert.equal(clock.sleepers, 0)
    await assert.rejects(clock.sleep(5, controller.signal), /stop/)
    assert.throws(() => {
      clock.advance(-1)
    }, RangeError)
    assert.throws(() => {
      clock.advance(Number.NaN)
    }, RangeError)
  })
})
