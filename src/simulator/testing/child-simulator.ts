// A simulator in a child process (rss-child.ts), for tests that measure its memory or must survive
// it misbehaving: the test talks to it over HTTP and asks it for its peak RSS over IPC.
import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { RssChildReady } from './rss-child.ts'

/** A running child simulator: its address and credentials, its peak RSS on demand, and its end. */
export interface ChildSimulator {
  readonly ready: RssChildReady
  /** Peak RSS of the child so far (bytes). */
  peakRssBytes(): Promise<number>
  /** Whether the child is still running (it did not crash). */
  alive(): boolean
  close(): Promise<void>
}

/**
 * Forks rss-child.ts (args such as `--no-data`) with `maxOldSpaceMiB` of V8 heap, so that a
 * runaway allocation dies quickly instead of swapping, and resolves once it listens.
 */
export async function startChildSimulator(
  args: readonly string[] = ['--no-data'],
  maxOldSpaceMiB = 1024,
): Promise<ChildSimulator> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./rss-child.ts', import.meta.url)), [...args], {
    execArgv: ['--import', 'tsx', `--max-old-space-size=${maxOldSpaceMiB}`],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let exited = false
  const exit = once(child, 'exit').then(() => {
    exited = true
    throw new Error('the child simulator exited')
  })
  exit.catch(() => undefined)
  // Never wait for a message from a child that died: the exit settles the wait instead.
  const nextMessage = async (): Promise<unknown> => {
    const [message] = (await Promise.race([once(child, 'message'), exit])) as [unknown]
    return message
  }
  const ready = (await nextMessage()) as RssChildReady
  return {
    ready,
    async peakRssBytes() {
      if (exited) throw new Error('the child simulator has exited')
      const answer = nextMessage()
      child.send('peak')
      return ((await answer) as { peakRssBytes: number }).peakRssBytes
    },
    alive: () => !exited,
    async close() {
      if (exited) return
      child.kill()
      await exit.catch(() => undefined)
    },
  }
}
