import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { openRemote } from './open-remote.ts'
import type { RemoteError } from './remote-error.ts'
import { rejectsWith } from './testing/conformance.ts'

describe('openRemote', () => {
  it('opens file:// as a local remote and refuses what it cannot open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'open-remote-'))
    try {
      const opened = await openRemote(`file://${dir}?useVhdDirectory=false`)
      assert.equal(opened.remote.description, `file://${dir}`)
      assert.equal(opened.remote.capabilities.atomicRename, true)
      await opened.close()
      await rejectsWith(openRemote('nfs://nas:/exports', { isRoot: false }), 'UNSUPPORTED')
      await rejectsWith(openRemote('s3://k:s@host.example'), 'INVALID_URL')
      await assert.rejects(
        openRemote('s3://host.example/bucket'),
        /^RemoteError.*no access key id: expected s3:/,
      )
      await assert.rejects(openRemote('s3://key@host.example/bucket'), /no secret access key/)
      await rejectsWith(openRemote('ftp://host/x'), 'INVALID_URL')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('opens s3:// with the bucket and directory from the path, conditional writes on AWS only', async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
    const aws = await openRemote('s3://AKIA:secret@s3.eu-west-3.amazonaws.com/bucket/a/b')
    assert.equal(aws.remote.description, 's3://AKIA:***@s3.eu-west-3.amazonaws.com/bucket/a/b')
    assert.equal(aws.remote.capabilities.conditionalCreate, true)
    assert.equal(aws.remote.capabilities.atomicRename, false)
    await aws.close()
    const other = await openRemote('s3+http://k:s@10.0.0.1:9000/bucket?conditionalWrites=false')
    assert.deepEqual(other.remote.capabilities, {
      atomicRename: false,
      conditionalCreate: false,
      locking: 'best-effort',
      readOnly: false,
    })
    await other.close()
  })

  it('says what to do when a local folder is missing or is not a folder; takes a bare absolute path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'open-remote-'))
    try {
      const bare = await openRemote(dir)
      assert.equal(bare.remote.description, `file://${dir}`)
      await bare.close()
      const missing = join(dir, 'not yet')
      const error = await openRemote(`file://${missing}`).then(
        () => assert.fail('a missing folder must be refused'),
        (e: unknown) => e as RemoteError,
      )
      assert.equal(error.code, 'NOT_FOUND')
      assert.equal(error.message, 'the remote folder does not exist')
      assert.deepEqual(error.details, {
        path: missing,
        hint: `create it first (mkdir -p '${missing}'), or check the path`,
      })
      await writeFile(join(dir, 'file'), 'x')
      await rejectsWith(openRemote(join(dir, 'file')), 'NOT_FOUND')
      await rejectsWith(openRemote('file://relative/dir'), 'INVALID_URL')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
