// Runs s3rver 3.7.1 in its own process (it needs `node --openssl-legacy-provider` for the DES of
// its ListObjectsV2 continuation tokens, tooling.md §2.2), on a free port of 127.0.0.1 with the
// bucket named in argv[3]; prints `{"port":N}` once listening and exits when stdin closes.
import process from 'node:process'
import S3rver from 's3rver'

const [directory, bucket] = process.argv.slice(2)
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
})
try {
  const { port } = await server.run()
  process.stdout.write(`${JSON.stringify({ port })}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => {
    void server.close().then(() => process.exit(0))
  })
} catch (error) {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
}
