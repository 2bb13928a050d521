// Data loading and ticking hooks shared by the pages.
import type { Inputs } from 'preact/hooks'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api.ts'
import { now } from './clock.ts'

/** A loaded value with its state; `reload` fetches again without clearing what is shown. */
export interface Resource<T> {
  readonly data: T | undefined
  readonly error: ApiError | undefined
  readonly loading: boolean
  readonly reload: () => void
  readonly setData: (data: T) => void
}

const asApiError = (error: unknown): ApiError =>
  error instanceof ApiError
    ? error
    : new ApiError(0, 'CLIENT', error instanceof Error ? error.message : String(error), undefined, undefined)

/**
 * Loads `load()` when `inputs` change (aborting the previous load) and, with `pollMs`, again at
 * that interval while the tab is visible; the last good data stays shown during reloads.
 */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  inputs: Inputs,
  pollMs?: number,
): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<ApiError | undefined>(undefined)
  const [loading, setLoading] = useState(true)
  const [generation, setGeneration] = useState(0)
  const loadRef = useRef(load)
  loadRef.current = load
  useEffect(() => {
    const controller = new AbortController()
    setLoading(true)
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return
        setData(() => value)
        setError(undefined)
        setLoading(false)
      },
      (failure: unknown) => {
        if (controller.signal.aborted) return
        setError(asApiError(failure))
        setLoading(false)
      },
    )
    return () => {
      controller.abort()
    }
    // The caller's inputs decide when to load again (load itself is read through a ref).
  }, [...inputs, generation])
  const reload = useCallback(() => {
    setGeneration((g) => g + 1)
  }, [])
  useInterval(() => {
    if (document.visibilityState === 'visible') reload()
  }, pollMs)
  const set = useCallback((value: T) => {
    setData(() => value)
  }, [])
  return { data, error, loading, reload, setData: set }
}

/** Calls `callback` every `ms` (nothing when `ms` is undefined); the latest callback is used. */
export function useInterval(callback: () => void, ms: number | undefined): void {
  const ref = useRef(callback)
  ref.current = callback
  useEffect(() => {
    if (ms === undefined) return undefined
    const timer = setInterval(() => {
      ref.current()
    }, ms)
    return () => {
      clearInterval(timer)
    }
  }, [ms])
}

/** The current time, refreshed every `ms` (for relative times and live durations). */
export function useNow(ms = 1000): number {
  const [time, setTime] = useState(now)
  useInterval(() => {
    setTime(now())
  }, ms)
  return time
}

/** An async action's state: run it, see whether it runs, read its error message. */
export interface Action<A extends unknown[]> {
  readonly run: (...args: A) => Promise<void>
  readonly busy: boolean
  readonly error: string | undefined
  readonly setError: (error: string | undefined) => void
}

/**
 * Wraps `act` so that it is not run twice at once and its failure becomes `error` (the API's
 * one-line message) instead of an unhandled rejection.
 */
export function useAction<A extends unknown[]>(act: (...args: A) => Promise<void>): Action<A> {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const run = async (...args: A): Promise<void> => {
    setBusy(true)
    setError(undefined)
    try {
      await act(...args)
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure))
    } finally {
      setBusy(false)
    }
  }
  return { run, busy, error, setError }
}
