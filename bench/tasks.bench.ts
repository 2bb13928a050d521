// Task-log benchmarks: the JSONL sink against plain ways of writing the same lines to a file, and
// the Task API against serialising the events it produces (a scale: what the events cost to log).
import { createWriteStream } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { runJob } from '../src/tasks/task.ts'
import type { TaskEvent, TaskSink } from '../src/tasks/events.ts'
import { JsonlFileSink } from '../src/tasks/sinks/jsonl-sink.ts'
import type { Benchmark, Sample } from './harness.ts'
import { timeWithCpu } from './harness.ts'

const VMS = 2000

/** A job with VMS VM tasks of 4 steps each (≈ 20 events per VM), as a large backup run writes. */
async function scriptedRun(sink: TaskSink): Promise<void> {
  await runJob({ sink }, { mode: 'delta', reportWhen: 'failure' }, async (job) => {
    job.info('vms', { vms: Array.from({ length: 10 }, (_, i) => `vm-${i}`) })
    for (let i = 0; i < VMS; i++) {
      await job.run(
        { data: { type: 'VM', id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` } },
        async (vm) => {
          await vm.run({ message: 'snapshot' }, () => Promise.resolve('OpaqueRef:snap'))
          await vm.run(
            { message: 'export', data: { type: 'remote', id: 'r1', isFull: false } },
            async (exp) => {
              await exp.run({ message: 'transfer' }, (t) => {
                t.progress(50, 100)
                t.warning('slow remote')
                return Promise.resolve({ size: 1 << 30 })
              })
              await exp.run({ message: 'merge' }, () => Promise.resolve({ size: 1 << 20 }))
            },
          )
        },
      )
    }
  })
}

export const benchmarks: Benchmark[] = [
  {
    name: 'tasks.log',
    async setup({ dir }) {
      const events: TaskEvent[] = []
      await scriptedRun({ write: (e) => events.push(e) })
      const work = { amount: events.length, unit: 'events' }
      const path = join(dir, 'log.jsonl')
      // Each side writes a fresh file; opening it and removing it afterwards are not timed.
      const fresh = async (write: () => Promise<Sample>): Promise<Sample> => {
        await rm(path, { force: true })
        return write()
      }
      return {
        sides: {
          oneWrite: {
            name: 'JSON.stringify of each event, then one writeFile of all lines',
            work,
            measure: () =>
              fresh(() =>
                timeWithCpu(() => writeFile(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''))),
              ),
          },
          sink: {
            name: 'JsonlFileSink.write of each event, then flush (no fsync)',
            work,
            measure: () =>
              fresh(async () => {
                const sink = await JsonlFileSink.open(path)
                const sample = await timeWithCpu(async () => {
                  for (const event of events) sink.write(event)
                  await sink.flush()
                })
                await sink.close()
                return sample
              }),
          },
          stream: {
            name: 'fs.createWriteStream, one write(JSON.stringify(event)) per event, then end',
            work,
            measure: () =>
              fresh(async () => {
                const stream = createWriteStream(path, { flags: 'a' })
                await new Promise((resolve) => stream.once('open', resolve))
                return timeWithCpu(async () => {
                  for (const event of events) stream.write(`${JSON.stringify(event)}\n`)
                  stream.end()
                  await finished(stream)
                })
              }),
          },
          api: {
            name: `runJob/task.run of ${VMS} VMs (ids, redaction, results) into a sink that drops events`,
            work,
            measure: () => timeWithCpu(() => scriptedRun({ write: () => undefined })),
          },
          stringify: {
            name: 'JSON.stringify of the same events',
            work,
            measure: () =>
              timeWithCpu(() => {
                for (const event of events) JSON.stringify(event)
                return Promise.resolve()
              }),
          },
        },
        figures: [
          { name: 'tasks.jsonl-sink.vs-one-write', subject: 'sink', reference: 'oneWrite' },
          { name: 'tasks.jsonl-sink.vs-write-stream', subject: 'sink', reference: 'stream' },
          { name: 'tasks.task-api.vs-stringify', subject: 'api', reference: 'stringify' },
        ],
      }
    },
  },
]
