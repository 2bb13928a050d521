// A small history router: the server answers index.html for every console path, so routes are
// plain paths; links are real anchors (open in a new tab works) intercepted for plain clicks.
import type { ComponentChildren, TargetedMouseEvent } from 'preact'
import { useEffect, useState } from 'preact/hooks'

type Listener = () => void
const listeners = new Set<Listener>()

function notify(): void {
  for (const listener of listeners) listener()
}

if (typeof window !== 'undefined') window.addEventListener('popstate', notify)

/** The current location as the router sees it. */
export interface Location {
  readonly path: string
  readonly search: URLSearchParams
}

function current(): Location {
  return { path: window.location.pathname, search: new URLSearchParams(window.location.search) }
}

/** Goes to `to` (a path with an optional query) and re-renders the routes. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === `${window.location.pathname}${window.location.search}`) return
  if (options.replace === true) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  window.scrollTo(0, 0)
  notify()
}

/** The current location, re-rendering the caller when it changes. */
export function useLocation(): Location {
  const [location, setLocation] = useState(current)
  useEffect(() => {
    const listener = (): void => {
      setLocation(current())
    }
    listeners.add(listener)
    return () => listeners.delete(listener)
  }, [])
  return location
}

/**
 * The parameters of `path` matched against `pattern` (`/jobs/:id`), or undefined when it does not
 * match; parameters are URI-decoded.
 */
export function matchPath(pattern: string, path: string): Readonly<Record<string, string>> | undefined {
  const want = pattern.split('/').filter((part) => part !== '')
  const got = path.split('/').filter((part) => part !== '')
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (const [i, part] of want.entries()) {
    const value = got[i] ?? ''
    if (part.startsWith(':')) {
      try {
        params[part.slice(1)] = decodeURIComponent(value)
      } catch {
        return undefined
      }
    } else if (part !== value) return undefined
  }
  return params
}

/** Props of Link: an anchor to a console path. */
export interface LinkProps {
  readonly href: string
  readonly class?: string
  readonly title?: string
  readonly children?: ComponentChildren
  readonly 'data-testid'?: string
  readonly 'aria-current'?: 'page' | undefined
}

/** An anchor that navigates inside the console on a plain left click. */
export function Link({ href, ...rest }: LinkProps) {
  const handle = (event: TargetedMouseEvent<HTMLAnchorElement>): void => {
    if (event.defaultPrevented || event.button !== 0) return
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(href)
  }
  return <a href={href} onClick={handle} {...rest} />
}
