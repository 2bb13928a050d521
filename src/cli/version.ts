import { readFileSync } from 'node:fs'

/** The package's version, read from package.json two levels up in src/ and three in dist/src/. */
export function readVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'xapi-backup' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // not at this level: try the next one
    }
  }
  return 'unknown'
}
