#!/usr/bin/env node
// Entry point of the `xapi-backup` command: the compiled CLI when `npm run build` has run,
// otherwise the TypeScript sources through tsx (a development checkout).
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/src/cli/main.js', import.meta.url)
if (existsSync(compiled)) {
  await import(compiled.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli/main.ts', import.meta.url).href)
}
