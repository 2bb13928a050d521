// Child process of the SIGKILL test (sinks/jsonl.test.ts): writes a job whose first VM finishes
// and whose second VM never does, prints "ready" once that is on disk, then waits to be killed.
import { JsonlFileSink } from '../sinks/jsonl-sink.ts'
import { runJob } from '../task.ts'

const path = process.argv[2]
if (path === undefined) throw new Error('usage: crash-writer.ts <file.jsonl>')
const sink = await JsonlFileSink.open(path)
void runJob({ sink }, { mode: 'full' }, async (job) => {
  await job.run({ data: { type: 'VM', id: 'done' } }, () => Promise.resolve())
  await job.run({ data: { type: 'VM', id: 'killed' } }, async (vm) => {
    await vm.run({ message: 'transfer' }, async () => {
      await sink.flush()
      process.stdout.write('ready\n')
      await new Promise(() => setInterval(() => undefined, 1000))
    })
  })
})
