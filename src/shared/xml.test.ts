import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { childElements, escapeXml, parseXml, textOf } from './xml.ts'

describe('parseXml', () => {
  it('parses prolog, nesting, attributes, self-closing tags, entities and CDATA', () => {
    const doc = parseXml(
      '<?xml version="1.0"?>\n<!-- c --><a x="1" y=\'&lt;2&gt;\'><b>t &amp; &#65;&#x42;</b><nil/><c><![CDATA[<raw>]]></c></a>',
    )
    assert.equal(doc.name, 'a')
    assert.deepEqual(doc.attributes, { x: '1', y: '<2>' })
    const [b, nil, c] = childElements(doc)
    assert.ok(b && nil && c, 'b && nil && c')
    assert.equal(textOf(b), 't & AB')
    assert.equal(nil.name, 'nil')
    assert.equal(textOf(c), '<raw>')
  })

  it('keeps whitespace text (a string of spaces is a value)', () => {
    assert.equal(textOf(parseXml('<value>  </value>')), '  ')
  })

  it('rejects malformed documents with the offset and what was expected', () => {
    const cases: [string, RegExp][] = [
      ['<a><b></a>', /expected <\/b>/],
      ['<a>', /expected <\/a>, got the end/],
      ['', /expected a root element/],
      ['<a/><b/>', /one root element/],
      ['<a>&bogus;</a>', /a known entity/],
      ['text<a/>', /expected an element/],
      ['<a x=1/>', /expected > or \/>/],
    ]
    for (const [text, message] of cases) {
      assert.throws(
        () => parseXml(text, 'ova.xml'),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'XML_INVALID')
          assert.match(e.message, /^ova\.xml: at offset \d+: /)
          assert.match(e.message, message)
          return true
        },
      )
    }
  })

  it('bounds nesting depth on hostile input', () => {
    assert.throws(() => parseXml('<a>'.repeat(10_000)), /nested elements/)
  })

  it('a document of empty elements costs a small multiple of its size (not ~40 bytes per byte)', () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const text = `<r>${'<a/>'.repeat(256 * 1024)}</r>`
    gc()
    const before = process.memoryUsage().heapUsed
    const doc = parseXml(text)
    gc()
    const retained = process.memoryUsage().heapUsed - before
    assert.equal(doc.children.length, 256 * 1024)
    assert.ok(retained < 20 * text.length, `${(retained / text.length).toFixed(1)} bytes per byte`)
  })

  it('escapes text so that it parses back identically', () => {
    const text = `a<b>&"c"'d`
    assert.equal(textOf(parseXml(`<x>${escapeXml(text)}</x>`)), text)
  })
})
