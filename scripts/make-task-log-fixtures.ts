// Regenerates test/fixtures/task-logs/*.jsonl from the scripted job of src/tasks/testing (run from the repo root).
import { JsonlFileSink } from '../src/tasks/sinks/jsonl-sink.ts'
import { runScriptedJob } from '../src/tasks/testing/scripted-job.ts'
const full = await JsonlFileSink.open('test/fixtures/task-logs/delta-backup.jsonl')
const a = runScriptedJob(full)
a.clock.advance(2000)
a.release()
await a.done
await full.close()
const cut = await JsonlFileSink.open('test/fixtures/task-logs/interrupted.jsonl')
runScriptedJob(cut)
await new Promise((r) => setImmediate(r))
await cut.flush()
await cut.close()
// The interrupted log is then cut by hand in the middle of its last line: truncate -s -40 interrupted.jsonl
