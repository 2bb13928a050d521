import type { TaskEvent, TaskSink } from '../events.ts'
import type { BuildOptions, TaskForest } from '../tree.ts'
import { buildTaskTrees } from '../tree.ts'

/** A sink that keeps every event in memory (tests, and the live view of a run). */
export class MemorySink implements TaskSink {
  readonly events: TaskEvent[] = []

  write(event: TaskEvent): void {
    this.events.push(event)
  }

  /** The trees built from the events so far; unfinished tasks are `pending` unless `final`. */
  trees(options: BuildOptions = { final: false }): TaskForest {
    return buildTaskTrees(this.events, options)
  }
}

/** A sink that writes each event to every given sink, in order. */
export function fanOutSink(...sinks: readonly TaskSink[]): TaskSink {
  return {
    write(event) {
      for (const sink of sinks) sink.write(event)
    },
  }
}
