import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatRate, formatRelative, percent } from '../../web/src/format.ts'
import { averageRate, RATE_WINDOW_MS, RateTracker } from '../../web/src/rates.ts'

const MIB = 1024 * 1024

describe('RateTracker', () => {
  it('has no rate before two samples, then bytes per second between them (event timestamps)', () => {
    const rates = new RateTracker()
    assert.equal(rates.rate('t'), undefined)
    rates.add('t', 1000, 0)
    assert.equal(rates.rate('t'), undefined)
    rates.add('t', 3000, 20 * MIB)
    assert.equal(rates.rate('t'), 10 * MIB)
  })

  it('follows the last window only: an earlier burst stops counting', () => {
    const rates = new RateTracker()
    rates.add('t', 0, 0)
    rates.add('t', 1000, 100 * MIB) // a burst
    for (let at = 2000; at <= 2000 + 2 * RATE_WINDOW_MS; at += 1000)
      rates.add('t', at, 100 * MIB + ((at - 1000) / 1000) * MIB)
    assert.equal(rates.rate('t'), MIB)
  })

  it('starts over when the count goes back (a retried step), never giving a negative rate', () => {
    const rates = new RateTracker()
    rates.add('t', 0, 0)
    rates.add('t', 1000, 50 * MIB)
    rates.add('t', 2000, 0)
    assert.equal(rates.rate('t'), undefined)
    rates.add('t', 3000, 4 * MIB)
    assert.equal(rates.rate('t'), 4 * MIB)
  })

  it('keeps tasks apart; the average of a finished task is done over its duration', () => {
    const rates = new RateTracker()
    rates.add('a', 0, 0)
    rates.add('a', 1000, MIB)
    rates.add('b', 0, 0)
    assert.equal(rates.rate('b'), undefined)
    assert.equal(averageRate(10 * MIB, 1000, 6000), 2 * MIB)
    assert.equal(averageRate(10 * MIB, 1000, 1000), undefined)
  })
})

describe('format', () => {
  it('percent: floors, stays below 100 until done, 0 without a total', () => {
    assert.equal(percent(999, 1000), 99)
    assert.equal(percent(1000, 1000), 100)
    assert.equal(percent(1, 0), 0)
  })

  it('rates read as the CLI writes sizes; nothing for no rate', () => {
    assert.equal(formatRate(1.5 * MIB), '1.50 MiB/s')
    assert.equal(formatRate(undefined), '')
    assert.equal(formatRate(0), '')
  })

  it('relative times both ways', () => {
    assert.equal(formatRelative(0, 5000), 'just now')
    assert.equal(formatRelative(0, 3 * 60_000), '3 min. ago')
    assert.equal(formatRelative(2 * 3_600_000, 0), 'in 2 hr.')
  })
})
