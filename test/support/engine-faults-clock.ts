// Preload (`node --import tsx --import <this>`) of the `xapi-backup run` children of
// test/integration/engine-job-faults.test.ts: moves the process's wall clock forward by
// ENGINE_FAULTS_CLOCK_OFFSET_MS, the same offset as the in-process simulator's clock, so that every
// run of those tests happens "an hour after the previous one" for both sides (snapshot times,
// backup names, lock leases), as scheduled runs do. Only Date.now moves; timers and durations don't.
const offsetMs = Number(process.env.ENGINE_FAULTS_CLOCK_OFFSET_MS ?? '0')
if (!Number.isSafeInteger(offsetMs))
  throw new Error(
    `ENGINE_FAULTS_CLOCK_OFFSET_MS: expected an integer, got ${JSON.stringify(process.env.ENGINE_FAULTS_CLOCK_OFFSET_MS)}`,
  )
if (offsetMs !== 0) {
  const realNow = Date.now.bind(Date)
  Date.now = () => realNow() + offsetMs
}
