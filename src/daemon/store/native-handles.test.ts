// Every better-sqlite3 handle of the project goes through native-handles.ts (kept for the life of
// the process): a database or statement made elsewhere can be collected, which aborts Node 24.19+
// (the store tests crashed the Node 24 CI pass that way). Checked over the sources, tests included.
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const ALLOWED = new Set(['src/daemon/store/native-handles.ts', 'src/daemon/store/statements.ts'])
// A Database made directly, better-sqlite3's own pragma() (a new statement per call), or a
// prepare() whose statement is not handed to keepForever.
const FORBIDDEN = [/new Database\(/, /\.pragma\(/, /(?<!keepForever\()\b(db|raw|writer|database)\.prepare\(/]

async function* sources(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'fixtures') yield* sources(path)
    else if (entry.isFile() && entry.name.endsWith('.ts')) yield path
  }
}

describe('native handles', () => {
  it('are made only through native-handles.ts', async () => {
    const offenders: string[] = []
    for (const top of ['src', 'test', 'bench'])
      for await (const file of sources(join(ROOT, top))) {
        const name = relative(ROOT, file)
        if (ALLOWED.has(name) || name === 'src/daemon/store/native-handles.test.ts') continue
        const lines = (await readFile(file, 'utf8')).split('\n')
        lines.forEach((line, i) => {
          if (FORBIDDEN.some((pattern) => pattern.test(line)))
            offenders.push(`${name}:${i + 1}: ${line.trim()}`)
        })
      }
    assert.deepEqual(offenders, [], 'better-sqlite3 handles made outside native-handles.ts')
  })
})
