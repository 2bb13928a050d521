// Child process of the memory test (test/integration/engine-sources-memory.test.ts): exports one
// VDI through openVdiExport and a fan-out to two consumers that discard the blocks, then prints
// what each consumer saw as JSON. Arguments: url user password vdiRef.
import { fanOutBlockSource, runConsumers } from '../../fan-out.ts'
import { openVdiExport } from '../vdi-export.ts'
import { HttpXapiClient } from '../../../xapi/http-xapi-client.ts'

const [url = '', user = '', password = '', vdiRef = ''] = process.argv.slice(2)
const client = new HttpXapiClient({ url, user, password })
await client.connect()
const source = await openVdiExport(client, { vdiRef })
const fan = fanOutBlockSource(source, 2, { close: (reason) => source.close(reason) })
const outcomes = await runConsumers(fan, async (view) => {
  let blocks = 0
  let bytes = 0
  // A cheap digest so that the data is really read, not only counted.
  let digest = 0
  for await (const block of view.blocks()) {
    blocks += 1
    bytes += block.data.byteLength
    digest = (digest * 31 + (block.data[0] ?? 0) + (block.data[block.data.length - 1] ?? 0)) >>> 0
  }
  return { blocks, bytes, digest }
})
await source.result()
await client.disconnect()
process.stdout.write(
  `${JSON.stringify({ bodyBytes: source.bytesRead, consumers: outcomes.map((o) => (o.ok ? o.value : String(o.error))) })}\n`,
)
