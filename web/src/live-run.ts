// A run as the run page shows it: its record and task tree, followed live through the event
// stream while it runs (tree rebuilt from the events, rates from progress deltas), then the
// server's final tree once `event: end` arrives.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { TaskEvent } from '../../src/tasks/events.ts'
import { buildTaskTrees } from '../../src/tasks/tree.ts'
import { api, ApiError, authHeaders, REFUSED_TOKEN } from './api.ts'
import { clearToken } from './auth.ts'
import { RateTracker } from './rates.ts'
import type { StreamState } from './sse-client.ts'
import { readEventStream, StreamRefusedError } from './sse-client.ts'
import type { RunDetail, RunRecord, TaskTreeNode } from './types.ts'
import { isLive } from './types.ts'

/** Everything the run page draws. */
export interface LiveRun {
  readonly run: RunRecord | undefined
  readonly roots: readonly TaskTreeNode[]
  readonly rates: RateTracker
  /** The stream's state while following a live run; 'done' once the run ended or was never live. */
  readonly stream: StreamState | 'done'
  readonly error: ApiError | undefined
  readonly setRun: (run: RunRecord) => void
}

// Rebuilding the tree costs a pass over every event: at most four times a second.
const REBUILD_MS = 250

const refusal = (error: StreamRefusedError): ApiError => {
  if (error.status === 401) clearToken(REFUSED_TOKEN)
  const body = error.body as { error?: { message?: unknown } } | undefined
  const message = typeof body?.error?.message === 'string' ? body.error.message : error.message
  return new ApiError(error.status, 'STREAM_REFUSED', message, undefined, error.body)
}

interface Sinks {
  readonly setDetail: (detail: RunDetail) => void
  readonly setRoots: (roots: readonly TaskTreeNode[]) => void
  readonly setRun: (run: RunRecord) => void
  readonly setStream: (state: StreamState | 'done') => void
  readonly rates: RateTracker
}

async function follow(id: string, signal: AbortSignal, sinks: Sinks): Promise<void> {
  const path = `/runs/${encodeURIComponent(id)}`
  const first = await api<RunDetail>('GET', path, undefined, signal)
  sinks.setDetail(first)
  if (!isLive(first.run.status)) {
    sinks.setStream('done')
    return
  }
  const events: TaskEvent[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const rebuild = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    sinks.setRoots(buildTaskTrees(events, { final: false }).roots)
  }
  signal.addEventListener('abort', () => {
    if (timer !== undefined) clearTimeout(timer)
  })
  const outcome = await readEventStream({
    url: `/api${path}/events`,
    headers: authHeaders(),
    signal,
    endEvent: 'end',
    onState: sinks.setStream,
    onMessage: (message) => {
      if (message.event === 'task') {
        const event = JSON.parse(message.data) as TaskEvent
        events.push(event)
        if (event.event === 'task.progress') sinks.rates.add(event.id, event.timestamp, event.done)
        timer ??= setTimeout(rebuild, REBUILD_MS)
      } else if (message.event === 'end') {
        rebuild()
        sinks.setRun(JSON.parse(message.data) as RunRecord)
      }
    },
  })
  if (outcome !== 'end') return
  sinks.setStream('done')
  // The server's tree marks tasks the run left unfinished as interrupted; ours cannot know that.
  sinks.setDetail(await api<RunDetail>('GET', path, undefined, signal))
}

/** Loads run `id` and follows it live until it ends. */
export function useLiveRun(id: string): LiveRun {
  const [run, setRun] = useState<RunRecord | undefined>(undefined)
  const [roots, setRoots] = useState<readonly TaskTreeNode[]>([])
  const [stream, setStream] = useState<StreamState | 'done'>('connecting')
  const [error, setError] = useState<ApiError | undefined>(undefined)
  const rates = useRef(new RateTracker()).current
  useEffect(() => {
    const controller = new AbortController()
    const sinks: Sinks = {
      setDetail: (detail) => {
        setRun(detail.run)
        if (detail.tree !== null) setRoots([detail.tree])
      },
      setRoots,
      setRun,
      setStream,
      rates,
    }
    follow(id, controller.signal, sinks).catch((failure: unknown) => {
      if (controller.signal.aborted) return
      setStream('done')
      if (failure instanceof StreamRefusedError) setError(refusal(failure))
      else if (failure instanceof ApiError) setError(failure)
      else
        setError(
          new ApiError(
            0,
            'CLIENT',
            failure instanceof Error ? failure.message : String(failure),
            undefined,
            undefined,
          ),
        )
    })
    return () => {
      controller.abort()
    }
  }, [id, rates])
  return { run, roots, rates, stream, error, setRun }
}
