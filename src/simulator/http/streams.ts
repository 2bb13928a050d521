import type { IncomingMessage, ServerResponse } from 'node:http'
import { XapiFault } from '../xapi-fault.ts'
import type { DataTask } from './data-task.ts'

// Largest piece moved at once when a stream is slowed, so the rate holds at small scales too.
const SLOW_PIECE_BYTES = 64 * 1024
// Bytes of an upload queued before the socket is paused (bounded memory per stream).
const UPLOAD_QUEUE_BYTES = 8 * 1024 * 1024

/** Applies the armed corruption, cut and rate faults to a body passing through, in order. */
class FaultedFlow {
  private position = 0
  private readonly task: DataTask

  constructor(task: DataTask) {
    this.task = task
  }

  /** Pieces of `chunk` to let through (corrupted if armed); `cut` when the cut point is reached. */
  pass(chunk: Uint8Array): { readonly pieces: Uint8Array[]; readonly cut: boolean } {
    const { corruptAtByte, cutAfterBytes, bytesPerSecond } = this.task.faults
    let data = chunk
    const start = this.position
    if (corruptAtByte !== undefined && corruptAtByte >= start && corruptAtByte < start + data.byteLength) {
      data = Uint8Array.from(data)
      data[corruptAtByte - start] = (data[corruptAtByte - start] ?? 0) ^ 0xff
    }
    let cut = false
    if (cutAfterBytes !== undefined && start + data.byteLength >= cutAfterBytes) {
      data = data.subarray(0, Math.max(0, cutAfterBytes - start))
      cut = true
    }
    this.position += data.byteLength
    if (bytesPerSecond === undefined) return { pieces: [data], cut }
    const pieces: Uint8Array[] = []
    for (let offset = 0; offset < data.byteLength; offset += SLOW_PIECE_BYTES) {
      pieces.push(data.subarray(offset, offset + SLOW_PIECE_BYTES))
    }
    return { pieces, cut }
  }

  /** Waits the time `bytes` take at the armed rate (none when not slowed). */
  async pace(bytes: number): Promise<void> {
    const rate = this.task.faults.bytesPerSecond
    if (rate !== undefined && bytes > 0)
      await this.task.ctx.clock.sleep((bytes / rate) * 1000, this.task.signal)
  }
}

function cancelled(task: DataTask): XapiFault {
  return new XapiFault('TASK_CANCELLED', [task.task])
}

/**
 * Streams `chunks` as a download body with backpressure and the armed data faults; a cut closes
 * the connection and fails with INTERNAL_ERROR, `task.cancel` or a client disconnect stop it.
 */
export async function sendBody(
  response: ServerResponse,
  chunks: AsyncIterable<Uint8Array>,
  task: DataTask,
): Promise<void> {
  const flow = new FaultedFlow(task)
  const state = { closed: false }
  const onClose = (): void => {
    state.closed = true
  }
  response.once('close', onClose)
  try {
    for await (const chunk of chunks) {
      const { pieces, cut } = flow.pass(chunk)
      for (const piece of pieces) {
        if (task.signal.aborted) throw cancelled(task)
        if (state.closed) throw new XapiFault('INTERNAL_ERROR', ['the client closed the connection'])
        await flow.pace(piece.byteLength)
        if (!response.write(piece)) await drained(response, task.signal)
      }
      if (cut) {
        response.destroy()
        throw new XapiFault('INTERNAL_ERROR', ['connection cut by an injected fault'])
      }
    }
  } finally {
    response.off('close', onClose)
  }
  if (task.signal.aborted) throw cancelled(task)
  await settled(response, task.signal, 'finish', () => response.end())
}

/** Waits for the response to drain; also wakes on its close or a cancel, whichever comes first. */
async function drained(response: ServerResponse, signal: AbortSignal): Promise<void> {
  if (!response.writableNeedDrain) return
  await settled(response, signal, 'drain', () => undefined)
}

/**
 * Runs `act`, then waits for `event`, the response's close or an abort of `signal`: a destroyed
 * response emits none of 'drain' or 'finish', so waiting for them alone could last forever.
 */
async function settled(
  response: ServerResponse,
  signal: AbortSignal,
  event: 'drain' | 'finish',
  act: () => void,
): Promise<void> {
  if (response.destroyed || signal.aborted) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      response.off(event, done)
      response.off('close', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    response.on(event, done)
    response.on('close', done)
    signal.addEventListener('abort', done, { once: true })
    act()
  })
}

/**
 * The body of an upload as chunks, with the armed data faults. It ends when the client ends or
 * closes the connection, even before Content-Length (XO's 1 PiB length, xapi.md §3.2): the request
 * stays flowing and backpressure pauses the socket, so no received byte is lost when Node aborts
 * the request on the client's close. A cut fault ends it early.
 */
export async function* receiveBody(request: IncomingMessage, task: DataTask): AsyncGenerator<Uint8Array> {
  const flow = new FaultedFlow(task)
  const queue: Uint8Array[] = []
  let queued = 0
  const state = { ended: false }
  let wake: (() => void) | undefined
  const notify = (): void => {
    wake?.()
    wake = undefined
  }
  const onData = (chunk: Buffer): void => {
    queue.push(chunk)
    queued += chunk.byteLength
    if (queued > UPLOAD_QUEUE_BYTES) request.socket.pause()
    notify()
  }
  const onEnd = (): void => {
    state.ended = true
    notify()
  }
  request.on('data', onData)
  request.on('end', onEnd)
  request.on('close', onEnd)
  request.on('error', onEnd)
  try {
    for (;;) {
      const chunk = queue.shift()
      if (chunk === undefined) {
        if (state.ended) return
        await new Promise<void>((resolve) => (wake = resolve))
        continue
      }
      queued -= chunk.byteLength
      if (queued <= UPLOAD_QUEUE_BYTES / 2 && request.socket.isPaused()) request.socket.resume()
      if (task.signal.aborted) throw cancelled(task)
      const { pieces, cut } = flow.pass(chunk)
      for (const piece of pieces) {
        await flow.pace(piece.byteLength)
        yield piece
      }
      if (cut) return
    }
  } finally {
    request.off('data', onData)
    request.off('end', onEnd)
    request.off('close', onEnd)
    request.off('error', onEnd)
  }
}
