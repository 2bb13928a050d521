// Transfer rates of live tasks from their progress events: bytes per second over the last few
// seconds of the events' own timestamps (the server's clock, so a slow page does not skew them).

interface Sample {
  readonly at: number
  readonly done: number
}

/** How far back the rate looks: long enough to smooth bursts, short enough to follow changes. */
export const RATE_WINDOW_MS = 5000

/** Per-task progress samples and the rates they give. */
export class RateTracker {
  private readonly samples = new Map<string, Sample[]>()

  /** Records that task `id` had `done` units done at `at` (epoch ms). */
  add(id: string, at: number, done: number): void {
    let list = this.samples.get(id)
    if (list === undefined) {
      list = []
      this.samples.set(id, list)
    }
    const last = list[list.length - 1]
    // A restarted count (a retried step) starts a new series: old samples would give a negative rate.
    if (last !== undefined && done < last.done) list.length = 0
    list.push({ at, done })
    // Keep one sample older than the window so the rate always spans the whole window.
    while (list.length > 2 && (list[1]?.at ?? at) <= at - RATE_WINDOW_MS) list.shift()
  }

  /** Bytes per second of task `id` over the window, or undefined with fewer than two samples. */
  rate(id: string): number | undefined {
    const list = this.samples.get(id)
    const first = list?.[0]
    const last = list?.[list.length - 1]
    if (first === undefined || last === undefined || last.at <= first.at) return undefined
    return ((last.done - first.done) * 1000) / (last.at - first.at)
  }
}

/** The average rate of a finished task: `done` over its duration, or undefined when instantaneous. */
export function averageRate(done: number, start: number, end: number): number | undefined {
  return end > start ? (done * 1000) / (end - start) : undefined
}
