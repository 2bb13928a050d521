import { BackupError } from './errors.ts'

/** An XML element: its name, attributes and children (elements and text, in document order). */
export interface XmlElement {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: readonly XmlNode[]
}

/** A node of a parsed document: an element or a run of entity-decoded text. */
export type XmlNode = XmlElement | string

/** Error for malformed XML: names the document, the offset, what was expected and what was found. */
export class XmlError extends BackupError<'XML_INVALID'> {
  readonly offset: number
  readonly expected: string
  readonly got: string

  constructor(what: string, offset: number, expected: string, got: string) {
    super('XML_INVALID', `${what}: at offset ${offset}: expected ${expected}, got ${got}`, {
      details: { offset, expected, got },
    })
    this.offset = offset
    this.expected = expected
    this.got = got
  }
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
// Hostile documents must not exhaust the stack of the code that walks the tree.
const MAX_DEPTH = 256
// Shared by every element without attributes or children: a document of `<a/>` must cost a small
// multiple of its size, not an empty object and array per 4 bytes (issue: 60 bytes per byte).
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({})
const NO_CHILDREN: readonly XmlNode[] = Object.freeze([])
// Element names repeat; sharing one string per distinct name (up to this many) saves a copy per node.
const MAX_INTERNED_NAMES = 1024

/** Escapes text for an XML text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => `&${c === '&' ? 'amp' : c === '<' ? 'lt' : c === '>' ? 'gt' : 'quot'};`,
  )
}

function decodeEntities(text: string, what: string, offset: number): string {
  if (!text.includes('&')) return text
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);|&/gi, (match, entity: string | undefined) => {
    const code =
      entity === undefined
        ? undefined
        : entity.startsWith('#x') || entity.startsWith('#X')
          ? parseInt(entity.slice(2), 16)
          : entity.startsWith('#')
            ? parseInt(entity.slice(1), 10)
            : undefined
    if (code !== undefined && code <= 0x10ffff) return String.fromCodePoint(code)
    const known = entity === undefined ? undefined : ENTITIES[entity]
    if (known === undefined) throw new XmlError(what, offset, 'a known entity', JSON.stringify(match))
    return known
  })
}

const NAME = /[A-Za-z_:][-\w.:]*/y
const ATTRIBUTE = /\s+([A-Za-z_:][-\w.:]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y

interface Open {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: XmlNode[]
}

/** The finished element: its children array trimmed to its length (or the shared empty one). */
function close(open: Open): XmlElement {
  const { name, attributes, children } = open
  return { name, attributes, children: children.length === 0 ? NO_CHILDREN : children.slice() }
}

/**
 * Parses a small XML document (XML-RPC bodies, ova.xml) into a tree. Supports the prolog,
 * comments, CDATA, attributes, self-closing tags and the predefined and numeric entities; rejects
 * anything malformed with an XmlError naming `what` and the offset. Text is kept as is
 * (whitespace between elements included; `childElements` skips it).
 */
export function parseXml(text: string, what = 'XML document'): XmlElement {
  const stack: Open[] = []
  let root: XmlElement | undefined
  let i = 0
  const names = new Map<string, string>()
  const intern = (name: string): string => {
    const known = names.get(name)
    if (known !== undefined) return known
    if (names.size < MAX_INTERNED_NAMES) names.set(name, name)
    return name
  }
  const fail = (expected: string): never => {
    throw new XmlError(
      what,
      i,
      expected,
      i >= text.length ? 'the end of the document' : JSON.stringify(text.slice(i, i + 20)),
    )
  }
  const skipPast = (end: string): void => {
    const at = text.indexOf(end, i)
    if (at < 0) fail(end)
    i = at + end.length
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i)
    const chunk = text.slice(i, lt < 0 ? text.length : lt)
    if (chunk !== '') {
      const top = stack.at(-1)
      if (top !== undefined) top.children.push(decodeEntities(chunk, what, i))
      else if (chunk.trim() !== '') fail('an element')
    }
    if (lt < 0) break
    i = lt
    if (text.startsWith('<?', i)) skipPast('?>')
    else if (text.startsWith('<!--', i)) skipPast('-->')
    else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i)
      const top = stack.at(-1)
      if (end < 0 || top === undefined) fail('a CDATA section inside an element')
      else top.children.push(text.slice(i + 9, end))
      i = end + 3
    } else if (text.startsWith('<!', i)) skipPast('>')
    else if (text.startsWith('</', i)) {
      i += 2
      NAME.lastIndex = i
      const name = NAME.exec(text)?.[0]
      const top = stack.pop()
      if (name === undefined || top === undefined || top.name !== name)
        fail(top === undefined ? 'no closing tag' : `</${top.name}>`)
      i = NAME.lastIndex
      while (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r') i++
      if (text[i] !== '>') fail('>')
      i++
      const element = close(top as Open)
      const parent = stack.at(-1)
      if (parent === undefined) root = element
      else parent.children.push(element)
    } else {
      i += 1
      NAME.lastIndex = i
      const name = NAME.exec(text)?.[0]
      if (name === undefined) fail('an element name')
      i = NAME.lastIndex
      let attributes: Record<string, string> | undefined
      for (;;) {
        ATTRIBUTE.lastIndex = i
        const m = ATTRIBUTE.exec(text)
        if (m === null) break
        attributes ??= {}
        attributes[m[1] as string] = decodeEntities(m[2] ?? m[3] ?? '', what, i)
        i = ATTRIBUTE.lastIndex
      }
      while (/\s/.test(text[i] ?? '')) i++
      const selfClosing = text.startsWith('/>', i)
      if (!selfClosing && text[i] !== '>') fail('> or />')
      i += selfClosing ? 2 : 1
      if (root !== undefined) fail('the end of the document (one root element)')
      const elementName = intern(name as string)
      const elementAttributes = attributes ?? NO_ATTRIBUTES
      if (selfClosing) {
        const element: XmlElement = {
          name: elementName,
          attributes: elementAttributes,
          children: NO_CHILDREN,
        }
        const parent = stack.at(-1)
        if (parent === undefined) root = element
        else parent.children.push(element)
      } else {
        if (stack.length >= MAX_DEPTH) fail(`at most ${MAX_DEPTH} nested elements`)
        stack.push({ name: elementName, attributes: elementAttributes, children: [] })
      }
    }
  }
  if (stack.length > 0) fail(`</${stack.at(-1)?.name ?? ''}>`)
  if (root === undefined) fail('a root element')
  return root as XmlElement
}

/** The child elements of `element` (text nodes left out). */
export function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== 'string')
}

/** The concatenated text directly inside `element`. */
export function textOf(element: XmlElement): string {
  return element.children.filter((c): c is string => typeof c === 'string').join('')
}
