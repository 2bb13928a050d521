import { BackupError } from '../../shared/errors.ts'
import { childElements, escapeXml, parseXml as parseXmlTree, textOf, XmlError } from '../../shared/xml.ts'
import type { XmlElement as XmlTreeElement } from '../../shared/xml.ts'

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

/** Escapes text for element content. */
export function escapeXmlText(text: string): string {
  return escapeXml(text)
}

function toElement(element: XmlTreeElement): XmlElement {
  return { name: element.name, children: childElements(element).map(toElement), text: textOf(element) }
}

/**
 * Parses a whole request body into its root element (on the shared XML parser; the XML-RPC
 * semantics on top stay the simulator's own); throws XmlSyntaxError when malformed.
 */
export function parseXml(source: string): XmlElement {
  try {
    return toElement(parseXmlTree(source, 'XML'))
  } catch (error) {
    if (error instanceof XmlError) throw new XmlSyntaxError(error.offset, error.expected, error.got)
    throw error
  }
}
