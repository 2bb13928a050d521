// `npm install` / `npm ci` (the prepare script): builds the web console into dist/web when vite is
// installed (a development install); an install without dev dependencies skips it and says so,
// and `xapi-backup serve` then answers a page explaining how to build it.
import { fileURLToPath } from 'node:url'

let vite
try {
  vite = await import('vite')
} catch {
  console.log('web console not built: vite (a dev dependency) is not installed; run npm run build:web later')
  process.exit(0)
}
await vite.build({
  configFile: fileURLToPath(new URL('../web/vite.config.ts', import.meta.url)),
  logLevel: 'warn',
})
console.log('web console built into dist/web')
