// Vite's build of the console: web/ → dist/web/ (served by `xapi-backup serve` at `/`). Plain object
// rather than defineConfig: importing vite's types would pull Node's globals into the browser
// project (web/tsconfig.json); vite validates the object itself.
const webRoot = decodeURIComponent(new URL('.', import.meta.url).pathname)

export default {
  root: webRoot,
  base: '/',
  publicDir: false,
  // Vite 8 transforms TS/JSX with oxc: JSX through preact's automatic runtime, no preset plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: `${webRoot}../dist/web`,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 200,
  },
}
