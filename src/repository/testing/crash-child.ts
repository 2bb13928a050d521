// Child process of the repository crash test: writes the crash scenario into a local remote and
// SIGKILLs itself at the Nth remote operation or written chunk (argv: root, killAt), so that the
// crash lands at a chosen point inside any write, rename, delete or metadata commit.
import { openLocalRemote } from '../../remotes/local/local-remote.ts'
import type { Remote, WriteSource } from '../../remotes/remote.ts'
import { wrapRemote } from '../../remotes/wrappers/wrap-remote.ts'
import { writeCrashScenario } from './crash-scenario.ts'

const [root, killAtText, fromText] = process.argv.slice(2)
if (root === undefined || killAtText === undefined)
  throw new Error('usage: crash-child.ts <root> <killAt> [from]')
const killAt = Number(killAtText)
let count = 0
const tick = (): void => {
  if (++count === killAt) process.kill(process.pid, 'SIGKILL')
}

async function* counted(source: WriteSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    tick()
    yield source
    return
  }
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    tick()
    yield chunk
  }
}

const inner = await openLocalRemote(root)
const remote: Remote = wrapRemote(inner, {
  write: (path, source, options) => {
    tick()
    return inner.write(path, counted(source), options)
  },
  delete: (path) => {
    tick()
    return inner.delete(path)
  },
  deleteMany: (paths) => {
    tick()
    return inner.deleteMany(paths)
  },
  rename: (from, to) => {
    tick()
    return inner.rename(from, to)
  },
})
await writeCrashScenario(remote, Number(fromText ?? 0), (i) =>
  process.stdout.write(`done ${i} at ${count}\n`),
)
process.stdout.write(`finished at ${count}\n`)
