// Child of the backup benchmark (subject sides): per job, runs the backup job of the run
// description file it was given through the app's real path (runBackupFromFile: description,
// credentials, XAPI login, snapshot, /export or /export_raw_vdi from the simulator, the local
// remote's writes and fsyncs, retention, snapshot cleanup, logout) and reports the seconds of that
// whole call (processes.ts serveJobs), with this process's peak RSS so far. A run that does not end
// with every VM backed up fails the child, so a broken backup cannot look fast.
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { serveJobs } from '../processes.ts'

const [descriptionPath] = process.argv.slice(2)
if (descriptionPath === undefined) throw new Error('usage: backup-run.ts <run description file>')

await serveJobs(async () => {
  // The task log stays in memory: a few dozen events per run, nothing next to a block.
  const sink = new MemorySink()
  const start = process.hrtime.bigint()
  const result = await runBackupFromFile(descriptionPath, { sink })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const failed = result.vms.filter((vm) => vm.status !== 'success')
  if (result.vms.length === 0 || failed.length > 0)
    throw new Error(
      `${descriptionPath}: expected every VM backed up, got ${JSON.stringify(result.vms.map((vm) => [vm.uuid, vm.status]))}`,
    )
  return { seconds }
})
