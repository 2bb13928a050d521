// The one conformance suite of the Remote port (architecture.md §5): every implementation and
// wrapper runs it unchanged; capability flags select which guarantees are asserted, never weaken them.
import { describe } from 'node:test'
import { conformanceAccessTests, conformancePathTests, conformanceWriteTests } from './conformance-io.ts'
import { conformanceListTests } from './conformance-list.ts'
import { conformanceLockTests } from './conformance-lock.ts'
import type { ConformanceOptions, RemoteFactory } from './conformance-support.ts'

export { patternBytes, rejectsWith, withRemote } from './conformance-support.ts'
export type { ConformanceOptions, RemoteFactory, RemoteUnderTest } from './conformance-support.ts'

/** Declares the conformance suite of the Remote port for one implementation. */
export function describeRemoteConformance(
  name: string,
  factory: RemoteFactory,
  options: ConformanceOptions = {},
) {
  const largeBytes = options.largeWriteBytes ?? 1 << 20
  describe(`Remote conformance: ${name}`, () => {
    conformanceWriteTests(factory, largeBytes)
    conformanceAccessTests(factory)
    conformancePathTests(factory)
    conformanceListTests(factory)
    conformanceLockTests(factory)
  })
}
