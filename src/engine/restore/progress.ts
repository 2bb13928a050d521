import type { Task } from '../../tasks/task.ts'

/**
 * A view of `task` whose progress(done, total) reports `task.progress(toOverall(done / total),
 * overallTotal)`: one disk's progress as part of a transfer's. Everything else goes to `task`.
 */
export function progressTo(task: Task, toOverall: (fraction: number) => number, overallTotal: number): Task {
  return {
    id: task.id,
    signal: task.signal,
    info: (message, data) => {
      task.info(message, data)
    },
    warning: (message, data) => {
      task.warning(message, data)
    },
    progress: (done, total) => {
      const fraction = total === undefined || total <= 0 ? 0 : Math.min(1, done / total)
      task.progress(Math.round(toOverall(fraction)), overallTotal)
    },
    run: (properties, fn, options) => task.run(properties, fn, options),
  }
}
