// Preloaded (--import) into a child process under test: on exit, writes the process's peak RSS in
import process from 'node:process'
// bytes to the file named by MAX_RSS_FILE, so a hostile-input test can assert bounded memory.
import { writeFileSync } from 'node:fs'

const file = process.env.MAX_RSS_FILE
if (file) {
  process.on('exit', () => {
    // resourceUsage().maxRSS is in KiB on Linux.
    writeFileSync(file, String(process.resourceUsage().maxRSS * 1024))
  })
}
