import { describeRemoteConformance } from './conformance.ts'
import { MemoryRemote } from './memory-remote.ts'

describeRemoteConformance('memory', (clock) => Promise.resolve({ remote: new MemoryRemote({ clock }) }))
