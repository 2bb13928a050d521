import type { SimulatorServer } from '../server.ts'
import { exportRawVdiHandler } from './export-raw-vdi.ts'
import { exportXvaHandler } from './export-xva.ts'
import { importRawVdiHandler } from './import-raw-vdi.ts'
import { importXvaHandler } from './import-xva.ts'

/** Registers the data-plane HTTP handlers (xapi.md §3, §8.4) on the simulator's server. */
export function registerDataHandlers(server: SimulatorServer): void {
  server.registerHttpHandler('/export', exportXvaHandler())
  server.registerHttpHandler('/export_raw_vdi', exportRawVdiHandler())
  server.registerHttpHandler('/import', importXvaHandler())
  server.registerHttpHandler('/import_raw_vdi', importRawVdiHandler())
}
