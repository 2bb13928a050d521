// Child of live-sink.test.ts: a TTY view on Node's timers, left open on purpose. The process must
// still exit by itself (the redraw timer is unref'd); the test kills it after a timeout otherwise.
import { systemClock } from '../../../shared/clock.ts'
import { createLiveSink } from '../live-sink.ts'
import { syntheticRun } from './harness.ts'

const sink = createLiveSink({ out: (text) => process.stdout.write(text), isTty: true, clock: systemClock })
for (const event of syntheticRun(2).slice(0, 6)) sink.write(event)
