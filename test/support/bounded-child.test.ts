import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runBounded } from './bounded-child.ts'

describe('runBounded', () => {
  it('reports exit status, output and a peak RSS that grows with what the child allocates', async () => {
    const small = await runBounded('test/support/fixtures/allocate.ts', ['0'])
    const big = await runBounded('test/support/fixtures/allocate.ts', ['200'])
    assert.equal(small.status, 0)
    assert.match(small.stdout, /allocated 0 MiB/)
    assert.ok(
      small.maxRssBytes !== undefined && big.maxRssBytes !== undefined,
      'small.maxRssBytes !== undefined && big.maxRssBytes !== undefined',
    )
    assert.ok(
      big.maxRssBytes - small.maxRssBytes > 150 * 1024 * 1024,
      `${small.maxRssBytes} ${big.maxRssBytes}`,
    )
  })
  it('kills a child that does not end in time', async () => {
    const run = await runBounded('test/support/fixtures/allocate.ts', ['0', 'hang'], { timeoutMs: 3000 })
    assert.equal(run.timedOut, true)
    assert.equal(run.signal, 'SIGKILL')
  })
})
