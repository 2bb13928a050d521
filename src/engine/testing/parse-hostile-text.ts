// Child process of description-hostile.test.ts: builds one hostile run description text (kind in
// argv[2]), parses it and prints the outcome as one JSON line. Run under runBounded, which
// measures its peak memory and kills it if it hangs.
import { parseDescriptionText } from '../description-text.ts'

const texts: Record<string, () => [string, 'json' | 'yaml']> = {
  'yaml-compact-sequences': () => [`${'- '.repeat(200_000)}x`, 'yaml'],
  'yaml-flow-nesting': () => ['['.repeat(500_000), 'yaml'],
  'yaml-flow-nesting-at-the-bound': () => [`${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'yaml'],
  'yaml-alias-bomb': () => {
    const levels = Array.from({ length: 9 }, (_, i) => {
      const name = String.fromCharCode(97 + i)
      const items =
        i === 0 ? Array<string>(10).fill('lol') : Array<string>(10).fill(`*${String.fromCharCode(96 + i)}`)
      return `${name}: &${name} [${items.join(', ')}]`
    })
    return [levels.join('\n'), 'yaml']
  },
  'json-nesting': () => ['['.repeat(1_000_000), 'json'],
}

const make = texts[process.argv[2] ?? '']
if (make === undefined) throw new Error(`unknown kind ${String(process.argv[2])}`)
const [text, format] = make()
try {
  parseDescriptionText(text, format, 'hostile')
  process.stdout.write(`${JSON.stringify({ parsed: true })}\n`)
} catch (error) {
  const { code, message } = error as { code?: string; message: string }
  process.stdout.write(`${JSON.stringify({ code, message })}\n`)
}
