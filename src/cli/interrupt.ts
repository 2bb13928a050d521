// What the long-running commands (run, restore, health-check) share about the terminal: Ctrl-C
// stops the work cleanly, and the live view is drawn to the terminal's size.
import process from 'node:process'
import type { CliIo } from './io.ts'

/**
 * Aborts `controller` on the first Ctrl-C or SIGTERM, saying `interrupted: <doing>` (the work then
 * stops and cleans up after itself); a second one exits at once with 130. Returns the function
 * that removes the handlers.
 */
export function onInterrupt(controller: AbortController, io: CliIo, doing: string): () => void {
  let count = 0
  const handler = (): void => {
    count++
    if (count === 1) {
      io.err(`\ninterrupted: ${doing} (Ctrl-C again to quit at once)\n`)
      controller.abort(new Error('interrupted by the user (SIGINT)'))
    } else process.exit(130)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}

/** The terminal's size; absent when stdout is not a terminal (Node's types say number regardless). */
export function terminalSize(): { columns?: number; rows?: number } {
  const { columns, rows } = process.stdout as { columns?: number; rows?: number }
  return { ...(columns === undefined ? {} : { columns }), ...(rows === undefined ? {} : { rows }) }
}
