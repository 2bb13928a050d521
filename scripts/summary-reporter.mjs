// node:test reporter whose last line is the plain `N passed, N failed, N skipped` that CI reads.
// Suites are not counted: only tests. `todo` counts as skipped.
export default async function* summaryReporter(source) {
  let passed = 0
  let failed = 0
  let skipped = 0
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    if (event.data.details?.type === 'suite') continue
    if (event.data.skip !== undefined || event.data.todo !== undefined) skipped++
    else if (event.type === 'test:pass') passed++
    else failed++
  }
  yield `${passed} passed, ${failed} failed, ${skipped} skipped\n`
}
