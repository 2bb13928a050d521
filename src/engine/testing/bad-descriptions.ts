// Shared by the bad-input corpus tests: a valid run description holding two secrets, an editor
// for it, and the runner asserting the one-line error and that no secret leaks.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { inspect } from 'node:util'
import type { CredentialReader } from '../credentials.ts'
import { parseRunDescription } from '../run-description.ts'
import { resolveRunCredentials } from '../run-description-file.ts'
import { RunDescriptionError } from '../run-description-error.ts'

/** Secrets of the base document: neither may appear in any error. */
export const XAPI_SECRET = 'hunter2-SECRET'
export const S3_SECRET = 's3cr3t-SECRET'
/** Ids used by the base document. */
export const JOB = '0b7e5a3c-0000-4000-8000-000000000001'
export const VM1 = '11111111-2222-4333-8444-555555555555'
export const VM2 = '22222222-2222-4333-8444-555555555555'

type Xapi = Record<string, unknown> & { credentials: Record<string, unknown> }

/** The base document, loosely typed so that cases can break it. */
export interface Doc {
  job: Record<string, unknown> & { settings: Record<string, Record<string, unknown>> }
  schedule: Record<string, unknown>
  remotes: Record<string, Record<string, unknown>>
  xapis: Record<string, Xapi> & { pool1: Xapi }
  [extra: string]: unknown
}

/** A fresh valid description: delta job, two VMs, remotes nas and s3, one XAPI. */
export const baseDocument = (): Doc => ({
  job: {
    id: JOB,
    name: 'nightly',
    mode: 'delta',
    remotes: { id: { __or: ['nas', 's3'] } },
    vms: { id: { __or: [VM1, VM2] } },
    settings: { '': { exportRetention: 7, timezone: 'Europe/Paris' }, daily: { fullInterval: 7 } },
  },
  schedule: { id: 'daily' },
  remotes: { nas: { url: 'file:///srv/backups' }, s3: { url: `s3://AKID:${S3_SECRET}@s3.example/bucket` } },
  xapis: {
    pool1: { url: 'https://pool1.example', credentials: { username: 'root', password: XAPI_SECRET } },
  },
})

/** The base document edited by `edit`, as indented JSON text. */
export const editedJson = (edit: (doc: Doc) => void): string => {
  const doc = baseDocument()
  edit(doc)
  return JSON.stringify(doc, null, 2)
}

const reader: CredentialReader = {
  env: { PRESENT: 'value' },
  readFile: (path) => Promise.reject(Object.assign(new Error(`${path}: gone`), { code: 'ENOENT' })),
}

/** One mistake: the text (JSON unless `file` says otherwise), the code and the exact line expected. */
export type BadDescription = { label: string; text: string; file?: string; code?: string; message: string }

/** Registers one test per case: parse, resolve credentials, expect exactly that error, no secret shown. */
export function testBadDescriptions(cases: readonly BadDescription[]): void {
  for (const c of cases) {
    it(c.label, async () => {
      const file = c.file ?? 'job.json'
      const error = await (async () => {
        const { description } = parseRunDescription(c.text, file)
        await resolveRunCredentials(description, reader, file)
      })().then(
        () => assert.fail('no error'),
        (e: unknown) => e,
      )
      assert.ok(error instanceof RunDescriptionError, String(error))
      assert.equal(error.message, c.message)
      assert.equal(error.code, c.code ?? 'RUN_DESCRIPTION_INVALID')
      assert.ok(!error.message.includes('\n'), 'one line')
      for (const shown of [error.message, JSON.stringify(error), inspect(error, { depth: 5 })])
        for (const secret of [XAPI_SECRET, S3_SECRET])
          assert.ok(!shown.includes(secret), `${secret} in ${shown}`)
    })
  }
}
