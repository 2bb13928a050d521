import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { Remote, RemoteEntry } from '../remote.ts'
import type { RemoteFactory } from './conformance-support.ts'
import { withRemote } from './conformance-support.ts'

/** Collects a listing as sorted `kind:path[:size]` strings (order is unspecified by the port). */
export async function listed(remote: Remote, prefix: string, recursive = false): Promise<string[]> {
  const out: string[] = []
  for await (const entry of remote.list(prefix, { recursive })) out.push(describeEntry(entry))
  return out.sort()
}

const describeEntry = (e: RemoteEntry): string =>
  e.kind === 'file' ? `file:${e.path}:${e.sizeBytes}` : `dir:${e.path}`

/** The listing part of the conformance suite (declared inside its describe). */
export function conformanceListTests(factory: RemoteFactory): void {
  it('lists direct children (files and directories) or every file recursively', () =>
    withRemote(factory, async (remote) => {
      for (const path of ['top.txt', 'a/one', 'a/two', 'a/b/three', 'a/b/c/four', 'ab/five']) {
        await remote.write(path, Buffer.from(path))
      }
      assert.deepEqual(await listed(remote, ''), ['dir:a', 'dir:ab', 'file:top.txt:7'])
      assert.deepEqual(await listed(remote, 'a'), ['dir:a/b', 'file:a/one:5', 'file:a/two:5'])
      assert.deepEqual(await listed(remote, 'a', true), [
        'file:a/b/c/four:10',
        'file:a/b/three:9',
        'file:a/one:5',
        'file:a/two:5',
      ])
      assert.deepEqual(await listed(remote, 'a/b/c'), ['file:a/b/c/four:10'])
      assert.deepEqual(await listed(remote, 'missing'), [])
      assert.deepEqual(await listed(remote, 'top.txt'), [], 'a file is not a directory')
    }))

  it('lists long directories completely (across pages) and deletes in batches', () =>
    withRemote(factory, async (remote) => {
      const names = Array.from({ length: 53 }, (_, i) => `many/f${String(i).padStart(3, '0')}`)
      for (const name of names) await remote.write(name, Buffer.from('x'))
      const files = await listed(remote, 'many')
      assert.deepEqual(
        files,
        names.map((n) => `file:${n}:1`),
      )
      await remote.deleteMany([...names.slice(0, 40), 'many/absent'])
      assert.deepEqual(
        await listed(remote, 'many', true),
        names.slice(40).map((n) => `file:${n}:1`),
      )
      await remote.deleteMany([])
    }))
}
