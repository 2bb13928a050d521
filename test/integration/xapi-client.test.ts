// The XAPI client against the simulator, over both transports: the control-plane behaviours of
// xapi.md §8.5 (items 1–4, 6–8, 13, 14) as the engine sees them through the client.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import type { XapiEvent, XapiTransportKind } from '../../src/xapi/types.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

function rejectsWith(code: string, params?: readonly string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${code}, got ${String(error)}`)
    assert.equal(error.code, code)
    if (params !== undefined) assert.deepEqual(error.params, params)
    return true
  }
}

for (const transport of ['json-rpc', 'xml-rpc'] as const satisfies readonly XapiTransportKind[]) {
  describe(`XAPI client over ${transport} against the simulator`, () => {
    let sim: RunningSimulator
    let client: HttpXapiClient
    const vm = (name: string): string => sim.pool.vms.get(name) ?? assert.fail(`no VM ${name}`)

    before(async () => {
      sim = await startSimulator()
      client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password, transport })
      await client.connect()
    })
    after(async () => {
      await client.disconnect()
      await sim.close()
    })

    it('§8.5.1 errors arrive as XapiError with code and params; system.listMethods is a bare list', async () => {
      await assert.rejects(
        client.getRecord('VM', 'OpaqueRef:00000000-0000-0000-0000-000000000000'),
        rejectsWith('HANDLE_INVALID', ['VM', 'OpaqueRef:00000000-0000-0000-0000-000000000000']),
      )
      await assert.rejects(client.call('VM.no_such_method', []), rejectsWith('MESSAGE_METHOD_UNKNOWN'))
      const methods = await client.call('system.listMethods')
      assert.ok(
        Array.isArray(methods) && methods.includes('VM.get_all_records'),
        "Array.isArray(methods) && methods.includes('VM.get_all_records')",
      )
      assert.equal(client.transportKind, transport)
    })

    it('reads typed records with numbers for 64-bit ints on both transports', async () => {
      const vms = await client.getAllRecords('VM')
      const web = vms.get(vm('web-01'))
      assert.equal(web?.name_label, 'web-01')
      assert.equal(web.power_state, 'Running')
      const vbds = await Promise.all(web.VBDs.map((ref) => client.getRecord('VBD', ref)))
      const disks = vbds.filter((v) => v.type === 'Disk')
      const vdi = await client.getRecord('VDI', disks[0]?.VDI ?? '')
      assert.equal(typeof vdi.virtual_size, 'number')
      assert.ok(
        [10, 4].map((g) => g * 1024 ** 3).includes(vdi.virtual_size),
        '[10, 4].map((g) => g * 1024 ** 3).includes(vdi.virtual_size)',
      )
      assert.equal(await client.getByUuid('VM', web.uuid), vm('web-01'))
      await assert.rejects(
        client.getByUuid('VM', '00000000-0000-4000-8000-000000000000'),
        rejectsWith('UUID_INVALID'),
      )
    })

    it('§8.5.2 a logged-out session is replaced by a new login on the next call', async () => {
      const other = new HttpXapiClient({
        url: sim.url,
        user: sim.username,
        password: sim.password,
        transport,
      })
      await other.connect()
      const sessionsBefore = sim.db.all('session').length
      await other.disconnect()
      assert.equal(sim.db.all('session').length, sessionsBefore - 1)
      assert.equal((await other.getRecord('VM', vm('archive'))).name_label, 'archive')
      await other.disconnect()
    })

    it('§8.5.3 Async.VM.snapshot of a running VM: snapshot record, disks, ignore_vdis', async () => {
      const source = await client.getRecord('VM', vm('web-01'))
      const vbds = await Promise.all(source.VBDs.map((ref) => client.getRecord('VBD', ref)))
      const diskVdis = vbds.filter((v) => v.type === 'Disk').map((v) => v.VDI)
      const snapRef = await client.callAsync('VM.snapshot', [vm('web-01'), 'snap-1', [diskVdis[1] ?? '']])
      const snap = await client.getRecord('VM', snapRef)
      assert.equal(snap.is_a_snapshot, true)
      assert.equal(snap.is_a_template, true)
      assert.equal(snap.snapshot_of, vm('web-01'))
      assert.equal(snap.power_state, 'Halted')
      assert.deepEqual(snap.blocked_operations, {})
      assert.deepEqual([...snap.tags].sort(), [...source.tags].sort())
      assert.ok(
        (await client.getRecord('VM', vm('web-01'))).snapshots.includes(snapRef),
        "(await client.getRecord('VM', vm('web-01'))).snapshots.includes(snapRef)",
      )
      const snapVdis = await Promise.all(
        (await Promise.all(snap.VBDs.map((ref) => client.getRecord('VBD', ref))))
          .filter((v) => v.type === 'Disk')
          .map((v) => client.getRecord('VDI', v.VDI)),
      )
      assert.equal(snapVdis.length, diskVdis.length - 1, 'the ignored VDI is not in the snapshot')
      assert.equal(snapVdis[0]?.is_a_snapshot, true)
      assert.equal(snapVdis[0].snapshot_of, diskVdis[0])
      // §8.5.4: a snapshot cannot be started.
      await assert.rejects(
        client.call('VM.start', [snapRef, false, false]),
        rejectsWith('VM_IS_SNAPSHOT', [snapRef, 'start']),
      )
    })

    it('§8.5.6 VM.destroy keeps VDIs; VDI.destroy of an attached VDI is VDI_IN_USE; a detached one goes with its VBDs', async () => {
      const running = await client.getRecord('VM', vm('db-01'))
      const runningVbd = await client.getRecord('VBD', running.VBDs[0] ?? '')
      await assert.rejects(
        client.call('VDI.destroy', [runningVbd.VDI]),
        rejectsWith('VDI_IN_USE', [runningVbd.VDI, 'destroy']),
      )
      const clone = await client.call('VM.clone', [vm('archive'), 'archive-clone'])
      const cloneRecord = await client.getRecord('VM', clone)
      const cloneVbds = await Promise.all(cloneRecord.VBDs.map((ref) => client.getRecord('VBD', ref)))
      const [firstVdi, secondVdi] = cloneVbds.map((v) => v.VDI)
      await client.call('VDI.destroy', [secondVdi ?? ''])
      assert.equal((await client.getRecord('VM', clone)).VBDs.length, cloneVbds.length - 1)
      await client.call('VM.destroy', [clone])
      await assert.rejects(client.getRecord('VM', clone), rejectsWith('HANDLE_INVALID'))
      await assert.rejects(client.getRecord('VBD', cloneRecord.VBDs[0] ?? ''), rejectsWith('HANDLE_INVALID'))
      assert.equal((await client.getRecord('VDI', firstVdi ?? '')).VBDs.length, 0)
    })

    it('§8.5.7 OPERATION_BLOCKED on a blocked start; a clone of the replica is startable', async () => {
      const replica = await client.call('VM.clone', [vm('build-agent'), 'replica'])
      await client.call('VM.add_to_blocked_operations', [replica, 'start', 'replica'])
      await assert.rejects(
        client.call('VM.start', [replica, false, false]),
        rejectsWith('OPERATION_BLOCKED', [replica, 'replica']),
      )
      const startable = await client.callAsync('VM.clone', [replica, 'startable'])
      assert.deepEqual((await client.getRecord('VM', startable)).blocked_operations, {})
      await client.callAsync('VM.start', [startable, false, false])
      assert.equal((await client.getRecord('VM', startable)).power_state, 'Running')
    })

    it('§8.5.8 map fields: MAP_DUPLICATE_KEY on add_to, silent remove_from of a missing key', async () => {
      const ref = vm('archive')
      await client.call('VM.add_to_other_config', [ref, 'xo:backup:job', 'j1'])
      await assert.rejects(
        client.call('VM.add_to_other_config', [ref, 'xo:backup:job', 'j2']),
        rejectsWith('MAP_DUPLICATE_KEY'),
      )
      await client.call('VM.remove_from_other_config', [ref, 'xo:backup:job'])
      await client.call('VM.remove_from_other_config', [ref, 'xo:backup:job'])
      assert.equal((await client.getRecord('VM', ref)).other_config['xo:backup:job'], undefined)
    })

    it('§8.5.13 Async task result is decoded; task events show add, mod and del', async () => {
      const start = await client.eventFrom(['task'], '', 0.1)
      const seen: XapiEvent[] = []
      // Watch concurrently: a task created and destroyed between two polls would not be reported.
      const watching = (async () => {
        let token = start.token
        while (!seen.some((e) => e.operation === 'del')) {
          const batch = await client.eventFrom(['task'], token, 5)
          token = batch.token
          seen.push(...batch.events)
        }
      })()
      const task = await client.call('Async.VM.snapshot', [vm('archive'), 'snap-2'])
      assert.ok(typeof task === 'string', "typeof task === 'string'")
      const snap = await client.waitTask(task)
      assert.ok(typeof snap === 'string', "typeof snap === 'string'")
      assert.match(snap, /^OpaqueRef:/)
      // On the wire the result is XML-RPC text even over JSON-RPC (xapi.md §1.6); the client decoded it.
      assert.equal((await client.getRecord('task', task)).result, `<value>${snap}</value>`)
      await client.call('task.destroy', [task])
      await watching
      const ops = seen.filter((e) => e.ref === task).map((e) => e.operation)
      assert.equal(ops[0], 'add')
      assert.equal(ops.at(-1), 'del')
    })

    it('watchEvents yields the current objects, then a change as it happens', async () => {
      const controller = new AbortController()
      const events = client.watchEvents(['VM'], { signal: controller.signal })[Symbol.asyncIterator]()
      const next = async (): Promise<XapiEvent> => {
        const result = await events.next()
        assert.ok(result.done !== true, 'result.done !== true')
        return result.value
      }
      const initial = new Set<string>()
      while (initial.size < sim.db.all('VM').length) {
        const event = await next()
        assert.equal(event.operation, 'add')
        initial.add(event.ref)
      }
      await client.call('VM.set_name_description', [vm('archive'), 'watched'])
      let change = await next()
      while (change.ref !== vm('archive')) change = await next()
      assert.equal(change.operation, 'mod')
      assert.equal(change.snapshot?.name_description, 'watched')
      controller.abort()
      await assert.rejects(events.next(), { name: 'AbortError' })
    })

    it('§8.5.14 event.from: "" dumps current objects as add, later tokens give deltas; inject + pool barrier', async () => {
      const first = await client.eventFrom(['VM', 'task'], '', 0.1)
      const vmAdds = first.events.filter((e) => e.class === 'vm' && e.operation === 'add')
      assert.equal(vmAdds.length, sim.db.all('VM').length)
      assert.equal(first.valid_ref_counts.vm, sim.db.all('VM').length)
      const poolRef = sim.pool.pool
      const token = await client.call('event.inject', ['pool', poolRef])
      await client.call('pool.add_to_other_config', [poolRef, 'xo:barrier:1', '1'])
      const delta = await client.eventFrom(['pool'], token, 1.5)
      const mod = delta.events.find((e) => e.class === 'pool' && e.operation === 'mod')
      assert.equal((mod?.snapshot?.other_config as Record<string, string> | undefined)?.['xo:barrier:1'], '1')
      await client.call('pool.remove_from_other_config', [poolRef, 'xo:barrier:1'])
    })
  })
}
