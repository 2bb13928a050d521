// Short confirmations ("Job saved") shown at the bottom of the screen for a few seconds.
import { useEffect, useState } from 'preact/hooks'

interface Toast {
  readonly id: number
  readonly text: string
  readonly kind: 'ok' | 'error'
}

let toasts: readonly Toast[] = []
let nextId = 1
const listeners = new Set<() => void>()

function publish(next: readonly Toast[]): void {
  toasts = next
  for (const listener of listeners) listener()
}

/** Shows `text` for four seconds (errors for eight). */
export function toast(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const id = nextId++
  publish([...toasts, { id, text, kind }].slice(-3))
  setTimeout(
    () => {
      publish(toasts.filter((t) => t.id !== id))
    },
    kind === 'ok' ? 4000 : 8000,
  )
}

/** The toast area; mounted once by the shell. */
export function Toasts() {
  const [list, setList] = useState(toasts)
  useEffect(() => {
    const listener = (): void => {
      setList(toasts)
    }
    listeners.add(listener)
    return () => listeners.delete(listener)
  }, [])
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} data-testid="toast">
          {t.text}
        </div>
      ))}
    </div>
  )
}
