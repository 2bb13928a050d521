import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimulatorContext } from '../context.ts'
import type { DataFaultPath, DataFaults } from '../faults.ts'
import type { HttpCaller } from '../http-auth.ts'
import { authenticateHttpRequest } from '../http-auth.ts'
import type { HttpHandler } from '../server.ts'
import { sendHtmlError } from '../server.ts'
import { XapiFault } from '../xapi-fault.ts'

/** A XAPI error raised before the 200 header: the handler answers `status` and fails its task. */
export class HttpRefusal extends XapiFault {
  readonly status: number

  constructor(status: number, code: string, params: readonly string[] = []) {
    super(code, params)
    this.status = status
  }
}

/** What a data handler body works with: its task (cancellable), its armed faults, progress. */
export interface DataTask {
  readonly ctx: SimulatorContext
  readonly caller: HttpCaller
  readonly task: string
  readonly signal: AbortSignal
  readonly faults: DataFaults
  readonly url: URL
  /** Reports progress (0..1); the task's `progress` moves by whole percents, each a `mod` event. */
  progress(fraction: number): void
}

/** Serves one data request: returns the task's XML-encoded result (`""` for none). */
export type DataBody = (task: DataTask, request: IncomingMessage, response: ServerResponse) => Promise<string>

function asFault(error: unknown, signal: AbortSignal, task: string): XapiFault {
  if (signal.aborted) return new XapiFault('TASK_CANCELLED', [task])
  if (error instanceof XapiFault) return error
  return new XapiFault('INTERNAL_ERROR', [error instanceof Error ? error.message : String(error)])
}

/**
 * Runs a data handler as XAPI does (xapi.md §3 common rules): authenticates (401 otherwise), runs
 * in the caller's `task_id` task or in its own one named `label` (its ref goes in the `task-id`
 * header), lets `task.cancel` abort it, and completes the task with the body's result or error.
 * An error before the 200 header answers HTTP 500 (or the refusal's status) with XAPI's HTML page;
 * after it, the connection is closed and only the task tells.
 */
export function runDataTask(path: DataFaultPath, label: string, body: DataBody): HttpHandler {
  return async (request, response, url, ctx) => {
    const caller = authenticateHttpRequest(ctx, request, response, url)
    if (caller === undefined) return
    const task = caller.task ?? ctx.tasks.create(label, '')
    const { signal, release } = ctx.tasks.watch(task)
    let percent = 0
    const dataTask: DataTask = {
      ctx,
      caller,
      task,
      signal,
      faults: ctx.faults.takeDataFaults(path),
      url,
      progress: (fraction) => {
        const next = Math.floor(Math.min(1, Math.max(0, fraction)) * 100)
        if (next <= percent) return
        percent = next
        ctx.tasks.setProgress(task, next / 100)
      },
    }
    try {
      const result = await untilCancelled(() => body(dataTask, request, response), signal, response)
      const failAtEnd = dataTask.faults.failAtEnd
      if (failAtEnd !== undefined) throw new XapiFault(failAtEnd.code, failAtEnd.params ?? [])
      if (signal.aborted) throw new XapiFault('TASK_CANCELLED', [task])
      if (isPending(ctx, task)) ctx.tasks.succeed(task, result)
      if (!response.writableEnded) response.end()
    } catch (error) {
      const fault = asFault(error, signal, task)
      if (isPending(ctx, task)) ctx.tasks.fail(task, fault)
      if (!response.headersSent) {
        const status = fault instanceof HttpRefusal ? fault.status : 500
        // The request's body may be unread (an upload of up to XO's 1 PiB): close rather than keep
        // the connection alive and wait for the rest of it.
        response.shouldKeepAlive = false
        sendHtmlError(response, status, `Server_error(${fault.code}, [ ${fault.params.join('; ')} ])`)
      } else response.destroy()
    } finally {
      release()
      caller.release()
    }
  }
}

/**
 * Settles like the work `start` begins (not begun at all when already cancelled), or rejects with the cancel as soon as `signal` fires, whatever `work` awaits
 * (a paused socket's 'drain', a response's end, a body not yet begun). The response is destroyed so
 * that the abandoned work wakes on its 'close' and ends by itself; its own outcome is then moot.
 */
async function untilCancelled<T>(
  start: () => Promise<T>,
  signal: AbortSignal,
  response: ServerResponse,
): Promise<T> {
  if (signal.aborted) throw new XapiFault('TASK_CANCELLED', [])
  const work = start()
  let onAbort = (): void => undefined
  const cancelled = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      reject(new XapiFault('TASK_CANCELLED', []))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, cancelled])
  } catch (error) {
    // Read through a call: TypeScript would keep `aborted` narrowed to false across the await.
    if (Reflect.get(signal, 'aborted')) {
      work.catch(() => undefined)
      if (response.headersSent) response.destroy()
    }
    throw error
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function isPending(ctx: SimulatorContext, task: string): boolean {
  const status = ctx.db.find('task', task)?.status
  return status === 'pending' || status === 'cancelling'
}

/** Writes XAPI's 200 header of a data handler: `Connection: close`, no length, the task ref (xapi.md §3). */
export function sendDataHeader(
  response: ServerResponse,
  task: string,
  headers: Readonly<Record<string, string>>,
): void {
  // XAPI's downloads have neither Content-Length nor chunked encoding: the body ends at close.
  response.useChunkedEncodingByDefault = false
  response.shouldKeepAlive = false
  response.writeHead(200, {
    Connection: 'close',
    'Cache-Control': 'no-cache, no-store',
    'task-id': task,
    ...headers,
  })
  response.flushHeaders()
}
