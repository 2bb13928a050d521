import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SseMessage } from '../../web/src/sse-parser.ts'
import { SseParser } from '../../web/src/sse-parser.ts'

const STREAM =
  ': comment\n' +
  'id: 0\nevent: task\ndata: {"a":1}\n\n' +
  'id: 1\r\nevent: task\r\ndata: line one\r\ndata:line two\r\n\r\n' +
  'retry: 2500\rid: 2\revent: end\rdata: {"status":"success"}\r\r'

const EXPECTED: SseMessage[] = [
  { event: 'task', data: '{"a":1}', lastEventId: '0' },
  { event: 'task', data: 'line one\nline two', lastEventId: '1' },
  { event: 'end', data: '{"status":"success"}', lastEventId: '2' },
]

function parseInChunks(text: string, cuts: readonly number[]): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser()
  const messages: SseMessage[] = []
  let from = 0
  for (const cut of [...cuts, text.length]) {
    messages.push(...parser.push(text.slice(from, cut)))
    from = cut
  }
  return { messages, parser }
}

describe('SseParser', () => {
  it('parses LF, CRLF and CR line ends, comments, multi-line data and retry', () => {
    const { messages, parser } = parseInChunks(STREAM, [])
    assert.deepEqual(messages, EXPECTED)
    assert.equal(parser.lastEventId, '2')
    assert.equal(parser.retryMs, 2500)
  })

  it('gives the same events however the text is cut into chunks (every single cut)', () => {
    for (let cut = 1; cut < STREAM.length; cut++)
      assert.deepEqual(parseInChunks(STREAM, [cut]).messages, EXPECTED, `cut at ${cut}`)
  })

  it('gives the same events when fed one character at a time', () => {
    const cuts = Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1)
    assert.deepEqual(parseInChunks(STREAM, cuts).messages, EXPECTED)
  })

  it('names an event without event: "message", dispatches nothing without data, keeps the id across events', () => {
    const parser = new SseParser()
    assert.deepEqual(parser.push('id: 7\n\nevent: x\n\ndata\n\n'), [
      { event: 'message', data: '', lastEventId: '7' },
    ])
  })

  it('ignores an id containing NUL and a non-numeric retry', () => {
    const parser = new SseParser()
    parser.push('id: 3\nretry: soon\ndata: a\n\nid: 4\0x\ndata: b\n\n')
    assert.equal(parser.lastEventId, '3')
    assert.equal(parser.retryMs, undefined)
  })

  it('reset drops a half-received event and its id: the resume point stays the last dispatched event', () => {
    const parser = new SseParser()
    parser.push('id: 5\ndata: done\n\nid: 6\ndata: half\n')
    assert.equal(parser.lastEventId, '5', 'id 6 is not dispatched yet')
    parser.reset()
    assert.deepEqual(parser.push('data: fresh\n\n'), [{ event: 'message', data: 'fresh', lastEventId: '5' }])
  })

  it('an id alone followed by a blank line sets the resume point', () => {
    const parser = new SseParser()
    assert.deepEqual(parser.push('id: 9\n\n'), [])
    assert.equal(parser.lastEventId, '9')
  })
})
