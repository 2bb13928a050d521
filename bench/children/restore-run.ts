// Child of the restore-chain benchmark (subject side): per job, restores the newest backup of a VM
// from a local remote onto an SR with restoreBackup (the engine's restore: the delta chain read
// from the remote as one disk, streamed as one VHD to PUT /import_raw_vdi, the VM record, VIFs,
// attributes) under a root `restore` task whose log stays in memory, and reports the seconds of
// that call and the bytes it sent (processes.ts serveJobs). The login, the remote and the listing
// happen once, before any job: what is timed is the restore alone. The restored VM is left in place
// for the bench process to check and remove.
import { restoreBackup, restoreTaskProperties } from '../../src/engine/restore/restore-backup.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { serveJobs } from '../processes.ts'

const [url, user, remoteDir, vmUuid, srUuid] = process.argv.slice(2)
const password = process.env.BENCH_XAPI_PASSWORD
if (
  url === undefined ||
  user === undefined ||
  remoteDir === undefined ||
  vmUuid === undefined ||
  srUuid === undefined ||
  password === undefined
)
  throw new Error('usage: BENCH_XAPI_PASSWORD=… restore-run.ts <url> <user> <remote dir> <VM uuid> <SR uuid>')

const xapi = new HttpXapiClient({ url, user, password })
await xapi.connect()
const remote = await openLocalRemote(remoteDir)
try {
  const listed = await listVmBackups(remote, vmUuid, { useCache: false })
  const backup = listed.backups.at(-1)
  if (backup === undefined) throw new Error(`restore-run.ts: no backup of VM ${vmUuid} in ${remoteDir}`)
  const srRef = await xapi.getByUuid('SR', srUuid)
  await serveJobs(async () => {
    const sink = new MemorySink()
    const start = process.hrtime.bigint()
    const restored = await runRootTask({ sink }, restoreTaskProperties(backup, srUuid), (task) =>
      restoreBackup({ xapi, remote, backup, srRef }, task),
    )
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    return { seconds, bytes: restored.sizeBytes }
  })
} finally {
  await xapi.disconnect()
}
