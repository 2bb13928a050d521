// Preload for start-up tests (`node --import ./cli-record-imports.mjs …`): appends the URL of
// every module the process resolves to the file named by RECORD_IMPORTS_FILE, so a test can
// check which modules a command loads without timing anything.
import { register } from 'node:module'
import process from 'node:process'
import { URL } from 'node:url'

const file = process.env.RECORD_IMPORTS_FILE
if (file !== undefined && file !== '') {
  register(new URL('./cli-record-imports-hooks.mjs', import.meta.url), { data: { file } })
}
