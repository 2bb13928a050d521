import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { recordTypes } from '../schema/index.ts'
import { t } from '../types.ts'
import { coerceValue, encodeJsonValue, encodeXmlValue, formatDouble } from './value-codec.ts'
import { XmlSyntaxError } from './xml.ts'
import { decodeXmlRpcCall } from './xmlrpc.ts'

describe('server-side XML-RPC codec', () => {
  it('decodes every input type XAPI accepts (xapi.md §1.2)', () => {
    const call = decodeXmlRpcCall(
      `<?xml version="1.0"?>
      <methodCall><methodName>X.y</methodName><params>
        <param><value>plain &amp; &lt;untyped&gt;</value></param>
        <param><value><string>typed</string></value></param>
        <param><value><int>42</int></value></param>
        <param><value><i8>-7</i8></value></param>
        <param><value><double>60.1</double></value></param>
        <param><value><boolean>1</boolean></value></param>
        <param><value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value></param>
        <param><value><array><data><value>a</value><value/></data></array></value></param>
        <param><value><struct><member><name>k</name><value><i4>1</i4></value></member></struct></value></param>
        <param><value/></param>
      </params></methodCall>`,
    )
    assert.equal(call.method, 'X.y')
    assert.deepEqual(call.params, [
      'plain & <untyped>', 'typed', 42, -7, 60.1, true, '20240420T12:00:00Z', ['a', ''], { k: 1 }, '',
    ]) // prettier-ignore
  })

  it('decodes a member named __proto__ as data, not as the prototype', () => {
    const call = decodeXmlRpcCall(
      '<methodCall><methodName>X.y</methodName><params><param><value><struct><member><name>__proto__</name><value>v</value></member></struct></value></param></params></methodCall>',
    )
    const [struct] = call.params as [Record<string, unknown>]
    assert.equal(Object.getPrototypeOf(struct), Object.prototype)
    assert.deepEqual(Object.keys(struct), ['__proto__'])
  })

  it('rejects malformed documents with the offset', () => {
    assert.throws(() => decodeXmlRpcCall('<methodCall><methodName>x</methodName>'), XmlSyntaxError)
    assert.throws(() => decodeXmlRpcCall('<methodCall><methodName>x</oops></methodCall>'), /offset \d+/)
    assert.throws(() => decodeXmlRpcCall('<methodResponse/>'), /expected <methodCall>/)
  })

  it('encodes by type: int as digits, int32 as i4, double %.16g, bool 1/0, escaped strings', () => {
    const type = t.struct({ n: t.int, c: t.int32, f: t.float, b: t.bool, s: t.string, l: t.set(t.int) })
    assert.equal(
      encodeXmlValue({ n: 10737418240, c: 3, f: 0.1, b: false, s: 'a<b&c', l: [1] }, type, recordTypes),
      '<value><struct><member><name>n</name><value>10737418240</value></member><member><name>c</name><value><i4>3</i4></value></member><member><name>f</name><value><double>0.1</double></value></member><member><name>b</name><value><boolean>0</boolean></value></member><member><name>s</name><value>a&lt;b&amp;c</value></member><member><name>l</name><value><array><data><value>1</value></data></array></value></member></struct></value>',
    )
    assert.deepEqual(
      encodeJsonValue({ n: 1, l: [2] }, t.struct({ n: t.int, l: t.set(t.int) }), recordTypes),
      { n: 1, l: [2] },
    )
    assert.equal(formatDouble(1), '1')
    assert.equal(formatDouble(0.30000000000000004), '0.3')
    assert.equal(formatDouble(1e-7), '1e-07')
  })

  it('coerces parameters by signature and names the parameter when they do not fit', () => {
    assert.equal(coerceValue('10737418240', t.int, 'virtual_size', recordTypes), 10737418240)
    assert.equal(coerceValue('0', t.bool, 'force', recordTypes), false)
    assert.deepEqual(coerceValue({ name_label: 'x', bogus: 1 }, t.record('VM'), 'args', recordTypes), {
      name_label: 'x',
    })
    assert.throws(() => coerceValue('ten', t.int, 'virtual_size', recordTypes), {
      code: 'FIELD_TYPE_ERROR',
      params: ['virtual_size'],
    })
    assert.throws(() => coerceValue('Exploded', t.enum('Halted', 'Running'), 'state', recordTypes), {
      code: 'FIELD_TYPE_ERROR',
    })
  })
})
