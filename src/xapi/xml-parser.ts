import { XapiProtocolError } from './xapi-error.ts'

/** An XML element: its name and its children (elements and text, in document order). */
export interface XmlElement {
  readonly name: string
  readonly children: readonly XmlNode[]
}

/** A node of the parsed tree: an element or a run of (entity-decoded) text. */
export type XmlNode = XmlElement | string

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function decodeEntities(text: string, offset: number): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (match, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X'))
      return String.fromCodePoint(parseInt(entity.slice(2), 16))
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10))
    const known = ENTITIES[entity]
    if (known === undefined) throw new XapiProtocolError(`XML at offset ${offset}`, 'a known entity', match)
    return known
  })
}

interface OpenElement {
  readonly name: string
  readonly children: XmlNode[]
}

/**
 * Parses the XML subset XML-RPC uses (elements, text, entities, CDATA, comments, the declaration;
 * attributes are ignored) into a tree; throws XapiProtocolError naming the offset on malformed input.
 */
export function parseXml(text: string): XmlElement {
  const root: OpenElement = { name: '#document', children: [] }
  const stack: OpenElement[] = [root]
  let i = 0
  const fail = (expected: string): never => {
    throw new XapiProtocolError(`XML at offset ${i}`, expected, JSON.stringify(text.slice(i, i + 40)))
  }
  const skipPast = (marker: string): void => {
    const end = text.indexOf(marker, i)
    if (end < 0) fail(`"${marker}"`)
    i = end + marker.length
  }
  while (i < text.length) {
    const top = stack[stack.length - 1] ?? fail('an open element')
    const lt = text.indexOf('<', i)
    if (lt !== i) {
      const end = lt < 0 ? text.length : lt
      top.children.push(decodeEntities(text.slice(i, end), i))
      i = end
      continue
    }
    if (text.startsWith('<?', i)) skipPast('?>')
    else if (text.startsWith('<!--', i)) skipPast('-->')
    else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i)
      if (end < 0) fail('"]]>"')
      top.children.push(text.slice(i + 9, end))
      i = end + 3
    } else if (text.startsWith('<!', i)) fail('no DOCTYPE')
    else if (text.startsWith('</', i)) {
      const end = text.indexOf('>', i)
      const name = text.slice(i + 2, end < 0 ? i + 2 : end).trim()
      if (end < 0 || stack.length < 2 || top.name !== name) fail(`</${top.name}>`)
      stack.pop()
      i = end + 1
    } else {
      const end = text.indexOf('>', i)
      if (end < 0) fail('">"')
      const selfClosing = text[end - 1] === '/'
      const inner = text.slice(i + 1, selfClosing ? end - 1 : end)
      const name = /^[A-Za-z_][\w.:-]*/.exec(inner)?.[0] ?? fail('an element name')
      const element: OpenElement = { name, children: [] }
      top.children.push(element)
      if (!selfClosing) stack.push(element)
      i = end + 1
    }
  }
  if (stack.length !== 1) fail(`</${stack[stack.length - 1]?.name ?? ''}>`)
  const elements = root.children.filter((c): c is XmlElement => typeof c !== 'string')
  if (elements.length !== 1 || root.children.some((c) => typeof c === 'string' && c.trim() !== '')) {
    throw new XapiProtocolError('XML document', 'exactly one root element', `${elements.length} elements`)
  }
  return elements[0] as XmlElement
}

/** The element children of `element` (text between them is ignored). */
export function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== 'string')
}

/** The concatenated text of `element`'s direct text children. */
export function textOf(element: XmlElement): string {
  return element.children.filter((c): c is string => typeof c === 'string').join('')
}

/** Escapes text for an XML element body. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
