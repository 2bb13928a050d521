// Process entry of the CLI (bin/xapi-backup.js and `npm start`).
import { runCli } from './program.ts'

process.exitCode = await runCli(process.argv)
