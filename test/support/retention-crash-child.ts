// Child process of test/integration/retention-crash.test.ts: applies a retention that expires the
// first `expire` delta backups of the local repository at argv[2], merging through a MergeStore
// that SIGKILLs the process at its Nth mutating operation (argv[3]; 0 = never), and prints how
// many mutating operations the merge store saw.
import { localRemoteMergeStore } from '../../src/app/local-merge-store.ts'
import { killSwitchStore } from '../../src/formats/vhd/testing/kill-switch-store.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { applyRetention } from '../../src/repository/retention-apply.ts'
import { IDS } from '../../src/repository/testing/sample-metadata.ts'
import { withVmLock } from '../../src/repository/vm-lock.ts'

const [root, killAtText, expireText] = process.argv.slice(2)
if (root === undefined) throw new Error('usage: retention-crash-child.ts <root> <killAt> <expire>')
let operations = 0
const store = killSwitchStore(localRemoteMergeStore(root), Number(killAtText ?? 0), (count) => {
  operations = count
})
const remote = await openLocalRemote(root)
const { backups } = await listVmBackups(remote, IDS.vm, { useCache: false })
const expired = backups.filter((b) => b.metadata.mode === 'delta').slice(0, Number(expireText ?? 1))
await withVmLock(remote, IDS.vm, (lock) => applyRetention(remote, IDS.vm, expired, { store, lock }))
process.stdout.write(`${operations}\n`)
