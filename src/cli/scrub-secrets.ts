// Defence in depth behind url.ts's redaction: whatever a command, a library or commander prints,
// the passwords of the remote URLs given on the command line never reach the terminal. A secret
// may hold `#`, `?`, `/` or `@` unencoded, so the pieces a naive parser would cut it into are
// hidden too.
import type { CliIo } from './io.ts'

// Shorter strings would blank ordinary words of the output; a secret that short protects nothing.
const MIN_SECRET = 3
const MIN_PIECE = 4

function decoded(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The passwords of `scheme://user:password@…` arguments, with their encoded forms and pieces. */
export function commandLineSecrets(args: readonly string[]): string[] {
  const secrets = new Set<string>()
  for (const arg of args) {
    const sep = arg.indexOf('://')
    const at = arg.lastIndexOf('@')
    if (sep === -1 || at < sep) continue
    const userinfo = arg.slice(sep + 3, at)
    const colon = userinfo.indexOf(':')
    if (colon === -1) continue
    const raw = userinfo.slice(colon + 1)
    for (const form of [raw, decoded(raw), encodeURIComponent(decoded(raw))]) {
      if (form.length >= MIN_SECRET) secrets.add(form)
      for (const piece of form.split(/[#?/@&=:%]/)) if (piece.length >= MIN_PIECE) secrets.add(piece)
    }
  }
  // Longest first, so a whole secret is replaced before its pieces.
  return [...secrets].sort((a, b) => b.length - a.length)
}

/** `io` with every occurrence of `secrets` replaced by `***` (the same io when there are none). */
export function scrubbingIo(io: CliIo, secrets: readonly string[]): CliIo {
  if (secrets.length === 0) return io
  const scrub = (text: string): string => secrets.reduce((t, s) => t.split(s).join('***'), text)
  return {
    out: (text) => {
      io.out(scrub(text))
    },
    err: (text) => {
      io.err(scrub(text))
    },
  }
}
