import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { openRemote } from './open-remote.ts'
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
})
