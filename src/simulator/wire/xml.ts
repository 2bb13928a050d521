import { BackupError } from '../../shared/errors.ts'

/** An XML element of the subset XML-RPC uses: no namespaces, no mixed content of interest. */
export interface XmlElement {
  readonly name: string
  readonly children: readonly XmlElement[]
  /** Concatenated character data directly inside this element (entities decoded). */
  readonly text: string
}

/** Error for a body that is not well-formed XML; names the byte offset, expected and got. */
export class XmlSyntaxError extends BackupError<'XML_SYNTAX'> {
  constructor(offset: number, expected: string, got: string) {
    super(
      'XML_SYNTAX',
      `XML at offset ${offset}: expected ${expected}, got ${JSON.stringify(got.slice(0, 20))}`,
    )
  }
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

/** Decodes the five predefined entities and numeric character references. */
export function decodeXmlText(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, body: string) => {
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16))
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10))
    return ENTITIES[body] ?? whole
  })
}

/** Escapes text for element content. */
export function escapeXmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

interface Builder {
  name: string
  children: XmlElement[]
  text: string
}

/** Parses a whole document into its root element; throws XmlSyntaxError when malformed. */
export function parseXml(source: string): XmlElement {
  const stack: Builder[] = []
  let root: XmlElement | undefined
  let i = 0
  while (i < source.length) {
    const lt = source.indexOf('<', i)
    const textEnd = lt === -1 ? source.length : lt
    if (textEnd > i) {
      const raw = source.slice(i, textEnd)
      const top = stack.at(-1)
      if (top !== undefined) top.text += decodeXmlText(raw)
      else if (raw.trim() !== '') throw new XmlSyntaxError(i, 'an element', raw)
    }
    if (lt === -1) break
    i = parseMarkup(source, lt, stack, (element) => {
      if (root !== undefined) throw new XmlSyntaxError(lt, 'end of document', source.slice(lt))
      root = element
    })
  }
  if (stack.length > 0 || root === undefined)
    throw new XmlSyntaxError(source.length, 'a closed root element', '')
  return root
}

function parseMarkup(source: string, lt: number, stack: Builder[], onRoot: (e: XmlElement) => void): number {
  if (source.startsWith('<?', lt)) return after(source, '?>', lt)
  if (source.startsWith('<!--', lt)) return after(source, '-->', lt)
  if (source.startsWith('<![CDATA[', lt)) {
    const end = after(source, ']]>', lt)
    const top = stack.at(-1)
    if (top === undefined) throw new XmlSyntaxError(lt, 'CDATA inside an element', source.slice(lt))
    top.text += source.slice(lt + 9, end - 3)
    return end
  }
  if (source.startsWith('<!', lt)) return after(source, '>', lt)
  const gt = after(source, '>', lt)
  const inner = source.slice(lt + 1, gt - 1)
  if (inner.startsWith('/')) {
    const name = inner.slice(1).trim()
    const open = stack.pop()
    if (open?.name !== name) throw new XmlSyntaxError(lt, `</${open?.name ?? '(none)'}>`, `</${name}>`)
    close(open, stack, onRoot)
    return gt
  }
  const selfClosing = inner.endsWith('/')
  const name = /^[A-Za-z_][\w.:-]*/.exec(inner)?.[0]
  if (name === undefined) throw new XmlSyntaxError(lt, 'an element name', inner)
  const builder: Builder = { name, children: [], text: '' }
  if (selfClosing) close(builder, stack, onRoot)
  else stack.push(builder)
  return gt
}

function close(builder: Builder, stack: Builder[], onRoot: (e: XmlElement) => void): void {
  const element: XmlElement = { name: builder.name, children: builder.children, text: builder.text }
  const parent = stack.at(-1)
  if (parent === undefined) onRoot(element)
  else parent.children.push(element)
}

function after(source: string, token: string, from: number): number {
  const at = source.indexOf(token, from)
  if (at === -1) throw new XmlSyntaxError(from, token, source.slice(from))
  return at + token.length
}
