// Task-log benchmarks: the JSONL sink against plain ways of writing the same bytes.
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runJob } from '../src/tasks/task.ts'
import type { TaskEvent, TaskSink } from '../src/tasks/events.ts'
import { JsonlFileSink } from '../src/tasks/sinks/jsonl-sink.ts'
import type { Benchmark } from './harness.ts'
import { timeSeconds } from './harness.ts'

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
    name: 'tasks.jsonl-sink',
    async run({ dir, report }) {
      const events: TaskEvent[] = []
      await scriptedRun({ write: (e) => events.push(e) })
      const lines = events.map((e) => `${JSON.stringify(e)}\n`)

      // The sink alone: replay the recorded events and flush (close's fsync is left out, as the
      // references do not fsync either). Serialising each event is part of the sink's cost.
      const sink = await JsonlFileSink.open(join(dir, 'sink.jsonl'))
      const sinkSeconds = await timeSeconds(async () => {
        for (const event of events) sink.write(event)
        await sink.flush()
      })
      await sink.close()
      // The Task API alone (ids, redaction, results) into a sink that drops events.
      const apiSeconds = await timeSeconds(() => scriptedRun({ write: () => undefined }))
      const stringifySeconds = await timeSeconds(() => {
        for (const event of events) JSON.stringify(event)
        return Promise.resolve()
      })
      const appendSeconds = await timeSeconds(async () => {
        for (const line of lines) await appendFile(join(dir, 'append.jsonl'), line)
      })
      const oneWriteSeconds = await timeSeconds(() => writeFile(join(dir, 'one.jsonl'), lines.join('')))
      const rate = (s: number): number => Math.round(events.length / s)
      report({
        name: 'tasks.jsonl-sink.events-per-second',
        value: rate(sinkSeconds),
        unit: 'events/s',
        reference: {
          name: 'fs.appendFile loop of the same lines',
          value: rate(appendSeconds),
          unit: 'events/s',
        },
      })
      report({
        name: 'tasks.jsonl-sink.vs-single-write',
        value: rate(sinkSeconds),
        unit: 'events/s',
        reference: {
          name: 'one writeFile of all lines (upper bound)',
          value: rate(oneWriteSeconds),
          unit: 'events/s',
        },
      })
      report({
        name: 'tasks.task-api.events-per-second',
        value: rate(apiSeconds),
        unit: 'events/s',
        reference: {
          name: 'JSON.stringify of the same events',
          value: rate(stringifySeconds),
          unit: 'events/s',
        },
      })
    },
  },
]
