import { BackupError } from '../../shared/errors.ts'
import { childElements, escapeXml, parseXml as parseXmlTree, textOf, XmlError } from '../../shared/xml.ts'
import type { XmlElement } from '../../shared/xml.ts'

export type { XmlElement } from '../../shared/xml.ts'

/** Error for a body that is not well-formed XML; names the byte offset, expected and got. */
export class XmlSyntaxError extends BackupError<'XML_SYNTAX'> {
  constructor(offset: number, expected: string, got: string) {
    super(
      'XML_SYNTAX',
      `XML at offset ${offset}: expected ${expected}, got ${JSON.stringify(got.slice(0, 20))}`,
    )
  }
}

/** Escapes text for element content. */
export function escapeXmlText(text: string): string {
  return escapeXml(text)
}

/** The first child element of `element` named `name`, if any. */
export function findChild(element: XmlElement, name: string): XmlElement | undefined {
  for (const child of element.children) if (typeof child !== 'string' && child.name === name) return child
  return undefined
}

/** The child elements of `element` (text left out). */
export function elementsOf(element: XmlElement): XmlElement[] {
  return childElements(element)
}

/** The character data directly inside `element` (entities decoded). */
export function textIn(element: XmlElement): string {
  return textOf(element)
}

/**
 * Parses a whole request body into its root element on the shared XML parser (whose tree costs a
 * small multiple of the body and refuses deep nesting); throws XmlSyntaxError when malformed.
 */
export function parseXml(source: string): XmlElement {
  try {
    return parseXmlTree(source, 'XML')
  } catch (error) {
    if (error instanceof XmlError) throw new XmlSyntaxError(error.offset, error.expected, error.got)
    throw error
  }
}
