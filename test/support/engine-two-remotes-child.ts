// Runs one backup job in its own process, for a test that limits what the process may write
// (`prlimit --fsize`): `node --import tsx engine-two-remotes-child.ts <job.yaml> <log.jsonl> <offsetMs>`.
// The task log goes to the JSONL file; the clock is the system clock plus offsetMs (the
// simulator's, in the parent). Prints one JSON line: the process's file size limit (from
// /proc/self/limits) and each VM's outcome, or the error the run threw.
import { readFileSync } from 'node:fs'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { JsonlFileSink } from '../../src/tasks/sinks/jsonl-sink.ts'

const [description, logPath, offset] = process.argv.slice(2)
if (description === undefined || logPath === undefined || offset === undefined)
  throw new Error('usage: engine-two-remotes-child.ts <job.yaml> <log.jsonl> <offsetMs>')
const offsetMs = Number(offset)
const clock: Clock = {
  now: () => systemClock.now() + offsetMs,
  sleep: (ms, signal) => systemClock.sleep(ms, signal),
}
const limit = /^Max file size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '?'
const sink = await JsonlFileSink.open(logPath)
let outcome: unknown
try {
  const result = await runBackupFromFile(description, { sink, clock })
  outcome = { vms: result.vms.map((vm) => ({ uuid: vm.uuid, status: vm.status })) }
} catch (error) {
  outcome = { error: error instanceof Error ? error.message : String(error) }
} finally {
  await sink.close()
}
process.stdout.write(`${JSON.stringify({ fileSizeLimit: limit, outcome })}\n`)
