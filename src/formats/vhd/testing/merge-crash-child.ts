// Test-only child process of the merge crash test: merges the chain given as JSON in argv[2] and
// dies by SIGKILL at mutating operation number KILL_AFTER (0 = never), then prints the count.
import { localMergeStore } from '../merge-store.ts'
import { mergeVhdChain } from '../vhd-merge.ts'
import { killSwitchStore } from './kill-switch-store.ts'

const chain = JSON.parse(process.argv[2] ?? '[]') as string[]
let operations = 0
const store = killSwitchStore(localMergeStore, Number(process.env.KILL_AFTER ?? '0'), (count) => {
  operations = count
})
await mergeVhdChain(store, chain, { stateEveryBlocks: 3 })
process.stdout.write(`${operations}\n`)
