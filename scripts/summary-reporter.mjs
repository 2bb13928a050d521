// node:test reporter whose last line is the plain `N passed, N failed, N skipped` that CI reads.
// Suites are not counted: only tests. `todo` counts as skipped.
//
// It is also the hang watchdog (issue 9 §4): a test file that runs longer than TEST_FILE_TIMEOUT_MS
// (default 10 min) is reported with the names of the tests still running in it, counted as a
// failure, and the run stops with exit code 1 (scripts/run-tests.mjs then kills what is left).
// Node 20 applies --test-timeout to whole files and Node 22+ to single tests, and neither names
// the test a file was stuck in, so the watchdog tracks that itself from the dequeue events.
import { resolve } from 'node:path'
import process from 'node:process'
import { clearInterval, setInterval } from 'node:timers'

const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 600_000)

export default async function* summaryReporter(source) {
  let passed = 0
  let failed = 0
  let skipped = 0
  /** file → { startedAt, running: Map<name+line, name> } for files that started and did not end. */
  const files = new Map()
  const line = (extraFailed = 0) => `${passed} passed, ${failed + extraFailed} failed, ${skipped} skipped\n`
  const describeStuck = (file, state) => {
    const names = [...state.running.values()]
    return names.length === 0
      ? `${file}: no test running (stuck while loading or after its tests, e.g. an open handle)`
      : `${file}: still running ${names.map((n) => JSON.stringify(n)).join(' > ')}`
  }
  const watchdog = setInterval(
    () => {
      const now = Date.now()
      const hung = [...files].filter(([, state]) => now - state.startedAt > fileTimeoutMs)
      if (hung.length === 0) return
      const report = hung.map(
        ([file, state]) => `✖ hung for more than ${fileTimeoutMs / 1000} s: ${describeStuck(file, state)}\n`,
      )
      process.stdout.write(report.join('') + line(hung.length), () => process.exit(1))
    },
    Math.min(5000, fileTimeoutMs / 4),
  )
  watchdog.unref()
  try {
    for await (const event of source) {
      const { data } = event
      // The file itself appears as a test named by its path (absolute on Node 20, relative on 24).
      const isFile =
        data?.file !== undefined && data.nesting === 0 && resolve(String(data.name)) === data.file
      if (event.type === 'test:dequeue') {
        if (isFile) files.set(data.file, { startedAt: Date.now(), running: new Map() })
        else files.get(data.file)?.running.set(`${data.nesting}:${data.line}:${data.name}`, data.name)
        continue
      }
      if (event.type === 'test:complete') {
        if (isFile) files.delete(data.file)
        else files.get(data.file)?.running.delete(`${data.nesting}:${data.line}:${data.name}`)
        continue
      }
      if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
      if (isFile && event.type === 'test:fail') {
        // A whole file failed (Node 20's file timeout, a crash while loading): name what was running.
        const state = files.get(data.file)
        if (state !== undefined) yield `✖ ${describeStuck(data.file, state)}\n`
      }
      if (data.details?.type === 'suite') continue
      if (data.skip !== undefined || data.todo !== undefined) skipped++
      else if (event.type === 'test:pass') passed++
      else failed++
    }
  } finally {
    clearInterval(watchdog)
  }
  yield line()
}
