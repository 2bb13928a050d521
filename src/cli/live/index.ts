// The live view of `xapi-backup run` (issue 10 item 7): a TaskSink drawing the task log as it goes.
export type { LiveSink, LiveSinkOptions, LiveTimers } from './live-sink.ts'
export { createLiveSink, nodeTimers, FRAME_INTERVAL_MS, REFRESH_MS, MAX_LINES_ABOVE } from './live-sink.ts'
export type { FinalStatus, RunSummary } from './summary.ts'
export { exitCodeFor, formatRunSummary, summarizeRun } from './summary.ts'
