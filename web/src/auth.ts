// The API token of this browser tab: kept in sessionStorage (gone when the tab closes, never in a
// URL or a cookie) and watched by the shell, which shows the login page when there is none.

const KEY = 'xapi-backup.token'

type Listener = () => void
const listeners = new Set<Listener>()
let notice: string | undefined

function storage(): Storage | undefined {
  try {
    return window.sessionStorage
  } catch {
    // Storage can be disabled by policy: the token then lives until the page reloads.
    return undefined
  }
}

let memoryToken: string | undefined = storage()?.getItem(KEY) ?? undefined

/** The token to send, or undefined when logged out. */
export function getToken(): string | undefined {
  return memoryToken
}

/** Stores `token` for this tab and clears any logout notice. */
export function setToken(token: string): void {
  memoryToken = token
  notice = undefined
  storage()?.setItem(KEY, token)
  for (const listener of listeners) listener()
}

/** Forgets the token; `message` is shown on the login page (why the user was sent there). */
export function clearToken(message?: string): void {
  memoryToken = undefined
  notice = message
  storage()?.removeItem(KEY)
  for (const listener of listeners) listener()
}

/** Why the user was last logged out, for the login page. */
export function logoutNotice(): string | undefined {
  return notice
}

/** Calls `listener` whenever the token changes; returns the unsubscribe function. */
export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}
