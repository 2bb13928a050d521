import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { patternBytes } from '../testing/conformance-support.ts'
import { CRASH_FILE_BYTES } from '../testing/crash-writer.ts'

const WRITER = new URL('../testing/crash-writer.ts', import.meta.url).pathname

/** Runs the crash writer and SIGKILLs it when it prints its `killAtLine`-th line. */
async function writeUntilKilled(root: string, killAtLine: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, root, 'vm/data.bin'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve()
    })
  })
  // Every line the child wrote before it died, also those still in the pipe when the signal
  // landed: under load the child runs many versions ahead of what the parent has read.
  const lines: string[] = []
  for await (const line of createInterface({ input: child.stdout })) {
    lines.push(line)
    if (lines.length === killAtLine) child.kill('SIGKILL')
  }
  await exited
  return lines
}

// 16 chunks per version, so each version prints 17 lines: kill points fall before the first
// publication, mid-stream, around the rename and fsync, and after several versions.
const KILL_LINES = [3, 17, 18, 19, 30, 35, 52, 69]

describe('LocalRemote under SIGKILL', () => {
  it('never shows a partial file under the final name, whatever the kill point', async () => {
    for (const killAt of KILL_LINES) {
      const root = await mkdtemp(join(tmpdir(), 'local-crash-'))
      try {
        const lines = await writeUntilKilled(root, killAt)
        const published = lines.filter((l) => l.startsWith('published ')).length
        const names = await readdir(join(root, 'vm')).catch(() => [] as string[])
        for (const name of names)
          assert.match(name, /^(data\.bin|\.data\.bin\.[0-9a-f]{12}\.tmp)$/, `kill at ${killAt}`)
        if (!names.includes('data.bin')) {
          assert.equal(published, 0, `kill at ${killAt}: a published version vanished`)
          continue
        }
        const content = await readFile(join(root, 'vm', 'data.bin'))
        // The final name holds a complete version: the last one the child said it published, or
        // the next one when the signal landed between the rename and the line saying so.
        const version = [published, published + 1].find((v) =>
          content.equals(patternBytes(CRASH_FILE_BYTES, v)),
        )
        assert.ok(version !== undefined && version >= 1, `kill at ${killAt}: partial or unknown content`)
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    }
  })
})
