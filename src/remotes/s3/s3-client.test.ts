import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createS3Client, guessAwsRegion } from './s3-client.ts'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

describe('S3 client settings', () => {
  it('guesses the region from AWS host names only', () => {
    assert.equal(guessAwsRegion('s3-us-west-2.amazonaws.com'), 'us-west-2')
    assert.equal(guessAwsRegion('s3.eu-west-3.amazonaws.com'), 'eu-west-3')
    assert.equal(guessAwsRegion('s3.amazonaws.com'), undefined)
    assert.equal(guessAwsRegion('s3-external-1.amazonaws.com'), undefined)
    assert.equal(guessAwsRegion('minio.example.org'), undefined)
  })

  it('uses path style, checksums only when required, and the region given or guessed', async () => {
    const guessed = createS3Client({
      endpoint: 'https://s3.eu-west-3.amazonaws.com',
      accessKeyId: 'a',
      secretAccessKey: 's',
    })
    assert.equal(await guessed.config.region(), 'eu-west-3')
    assert.equal(guessed.config.forcePathStyle, true)
    assert.equal(await guessed.config.requestChecksumCalculation(), 'WHEN_REQUIRED')
    assert.equal(await guessed.config.responseChecksumValidation(), 'WHEN_REQUIRED')
    guessed.destroy()
    const given = createS3Client({
      endpoint: 'http://10.0.0.1:9000',
      accessKeyId: 'a',
      secretAccessKey: 's',
      region: 'r1',
      forcePathStyle: false,
    })
    assert.equal(await given.config.region(), 'r1')
    assert.equal(given.config.forcePathStyle, false)
    given.destroy()
    const fallback = createS3Client({
      endpoint: 'http://10.0.0.1:9000',
      accessKeyId: 'a',
      secretAccessKey: 's',
    })
    assert.equal(await fallback.config.region(), 'us-east-1')
    fallback.destroy()
  })
})
