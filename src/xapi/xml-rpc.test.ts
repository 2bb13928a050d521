import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { XapiError, XapiProtocolError } from './xapi-error.ts'
import {
  decodeXmlRpcResponse,
  decodeXmlRpcValueText,
  encodeXmlRpcCall,
  encodeXmlRpcValue,
} from './xml-rpc.ts'

const envelope = (value: string): string =>
  `<?xml version="1.0"?><methodResponse><params><param>${value}</param></params></methodResponse>`
const success = (value: string): string =>
  envelope(
    `<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${value}</member></struct></value>`,
  )

describe('XML-RPC codec', () => {
  it('encodes a methodCall with the shape of xapi.md §1.2', () => {
    assert.equal(
      encodeXmlRpcCall('VM.get_record', ['OpaqueRef:s', 'OpaqueRef:vm']),
      '<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params>' +
        '<param><value><string>OpaqueRef:s</string></value></param>' +
        '<param><value><string>OpaqueRef:vm</string></value></param></params></methodCall>',
    )
  })

  it('encodes ints as digit strings (exact beyond 2^31), floats as doubles, escapes text', () => {
    assert.equal(encodeXmlRpcValue(10737418240), '<value><string>10737418240</string></value>')
    assert.equal(encodeXmlRpcValue(60.1), '<value><double>60.1</double></value>')
    assert.equal(encodeXmlRpcValue(true), '<value><boolean>1</boolean></value>')
    assert.equal(encodeXmlRpcValue('a<b&c'), '<value><string>a&lt;b&amp;c</string></value>')
    assert.equal(
      encodeXmlRpcValue({ k: ['x'] }),
      '<value><struct><member><name>k</name><value><array><data><value><string>x</string></value></data></array></value></member></struct></value>',
    )
    assert.throws(() => encodeXmlRpcValue(Number.NaN), RangeError)
  })

  it('decodes the Success envelope with XAPI types: untyped ints stay strings, typed values convert', () => {
    const value = decodeXmlRpcResponse(
      success(
        '<value><struct>' +
          '<member><name>virtual_size</name><value>10737418240</value></member>' +
          '<member><name>i4</name><value><i4>-7</i4></value></member>' +
          '<member><name>i8</name><value><i8>9007199254740991</i8></value></member>' +
          '<member><name>progress</name><value><double>0.5</double></value></member>' +
          '<member><name>ok</name><value><boolean>0</boolean></value></member>' +
          '<member><name>when</name><value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value></member>' +
          '<member><name>bits</name><value><base64>AAEC\n/w==</base64></value></member>' +
          '<member><name>empty</name><value/></member>' +
          '<member><name>s</name><value><string> a &amp; b </string></value></member>' +
          '<member><name>__proto__</name><value>own</value></member>' +
          '<member><name>set</name><value><array><data><value>a</value><value><array><data/></array></value></data></array></value></member>' +
          '</struct></value>',
      ),
      'VDI.get_record',
    )
    assert.deepEqual(Object.entries(value), [
      ['virtual_size', '10737418240'],
      ['i4', -7],
      ['i8', 9007199254740991],
      ['progress', 0.5],
      ['ok', false],
      ['when', '20240420T12:00:00Z'],
      ['bits', 'AAEC/w=='],
      ['empty', ''],
      ['s', ' a & b '],
      ['__proto__', 'own'],
      ['set', ['a', []]],
    ])
  })

  it('turns a Failure envelope into XapiError with code, params and method', () => {
    const body = envelope(
      '<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>' +
        '<value><array><data><value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:x</value></data></array></value>' +
        '</member></struct></value>',
    )
    assert.throws(
      () => decodeXmlRpcResponse(body, 'VM.get_record'),
      (error: unknown) =>
        error instanceof XapiError &&
        error.code === 'HANDLE_INVALID' &&
        error.method === 'VM.get_record' &&
        error.params.join() === 'VM,OpaqueRef:x',
    )
  })

  it('returns the bare value of system.listMethods (no Status wrapper)', () => {
    const body = envelope(
      '<value><array><data><value>VM.get_all_records</value><value>task.get_record</value></data></array></value>',
    )
    assert.deepEqual(decodeXmlRpcResponse(body, 'system.listMethods'), [
      'VM.get_all_records',
      'task.get_record',
    ])
  })

  it('maps <fault> to XMLRPC_FAULT and rejects malformed answers with XapiProtocolError', () => {
    const fault =
      '<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member><member><name>faultString</name><value>Too many</value></member></struct></value></fault></methodResponse>'
    assert.throws(
      () => decodeXmlRpcResponse(fault, 'm'),
      (e: unknown) => e instanceof XapiError && e.code === 'XMLRPC_FAULT' && e.params.join() === '4,Too many',
    )
    assert.throws(() => decodeXmlRpcResponse('<methodResponse><params>', 'm'), XapiProtocolError)
    assert.throws(
      () => decodeXmlRpcResponse(success('<value><int>1.5</int></value>'), 'm'),
      /expected an integer/,
    )
    assert.throws(
      () => decodeXmlRpcResponse(success('<value><nil/></value>'), 'm'),
      /expected an XML-RPC type, got <nil>/,
    )
    assert.throws(
      () => decodeXmlRpcResponse('<html><body>HTTP 500</body></html>', 'm'),
      /expected <methodResponse>/,
    )
    assert.throws(
      () => decodeXmlRpcResponse(envelope('<value>&bogus;</value>'), 'm'),
      /offset \d+: expected a known entity/,
    )
  })

  it('decodes task results (XML-RPC text, xapi.md §1.6)', () => {
    assert.equal(decodeXmlRpcValueText('<value>OpaqueRef:abc</value>', 'r'), 'OpaqueRef:abc')
    assert.deepEqual(
      decodeXmlRpcValueText('<value><array><data><value>OpaqueRef:a</value></data></array></value>', 'r'),
      ['OpaqueRef:a'],
    )
    assert.throws(() => decodeXmlRpcValueText('<struct/>', 'r'), /expected <value>/)
  })
})
