import { t } from '../types.ts'
import type { ClassSchema } from './field.ts'
import { f, required } from './field.ts'

const vdiType = t.enum(
  'system', 'user', 'ephemeral', 'suspend', 'crashdump', 'ha_statefile', 'metadata', 'redo_log', 'rrd',
  'pvs_cache', 'cbt_metadata',
) // prettier-ignore

/** Field table of `SR` (xapi.md §2.6). */
export const srSchema: ClassSchema = {
  name: 'SR',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('name_label', t.string, 'rw'),
    f('name_description', t.string, 'rw'),
    f('allowed_operations', t.set(t.string)),
    f('current_operations', t.stringMap),
    f('VDIs', t.set(t.ref('VDI'))),
    f('PBDs', t.set(t.ref('PBD'))),
    f('virtual_allocation', t.int),
    f('physical_utilisation', t.int),
    f('physical_size', t.int),
    f('type', t.string),
    f('content_type', t.string),
    f('shared', t.bool, 'rw'),
    f('other_config', t.stringMap, 'rw'),
    f('tags', t.set(t.string), 'rw'),
    f('sm_config', t.stringMap, 'rw'),
    f('blobs', t.stringMap),
    f('local_cache_enabled', t.bool),
    f('introduced_by', t.ref('DR_task')),
    f('clustered', t.bool),
    f('is_tools_sr', t.bool),
  ],
}

/** Field table of `PBD`. */
export const pbdSchema: ClassSchema = {
  name: 'PBD',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('host', t.ref('host')),
    f('SR', t.ref('SR')),
    f('device_config', t.stringMap),
    f('currently_attached', t.bool),
    f('other_config', t.stringMap, 'rw'),
  ],
}

/** Field table of `VDI` (xapi.md §2.5); `content_handle` is the simulator's own pointer to the disk bytes. */
export const vdiSchema: ClassSchema = {
  name: 'VDI',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('name_label', t.string, 'rw'),
    f('name_description', t.string, 'rw'),
    f('allowed_operations', t.set(t.string)),
    f('current_operations', t.stringMap),
    required('SR', t.ref('SR'), 'ctor'),
    f('VBDs', t.set(t.ref('VBD'))),
    f('crash_dumps', t.set(t.ref('crashdump'))),
    required('virtual_size', t.int, 'ctor'),
    f('physical_utilisation', t.int),
    required('type', vdiType, 'ctor'),
    f('sharable', t.bool, 'ctor'),
    f('read_only', t.bool, 'ctor'),
    f('other_config', t.stringMap, 'rw'),
    f('storage_lock', t.bool),
    f('location', t.string),
    f('managed', t.bool, 'ro', true),
    f('missing', t.bool),
    f('parent', t.ref('VDI')),
    f('xenstore_data', t.stringMap, 'ctor'),
    f('sm_config', t.stringMap, 'ctor'),
    f('is_a_snapshot', t.bool),
    f('snapshot_of', t.ref('VDI')),
    f('snapshots', t.set(t.ref('VDI'))),
    f('snapshot_time', t.datetime),
    f('tags', t.set(t.string), 'ctor'),
    f('allow_caching', t.bool),
    f('on_boot', t.enum('reset', 'persist'), 'ro', 'persist'),
    f('metadata_of_pool', t.ref('pool')),
    f('metadata_latest', t.bool),
    f('is_tools_iso', t.bool),
    f('cbt_enabled', t.bool),
  ],
}

/** Field table of `VBD` (xapi.md §2.4). */
export const vbdSchema: ClassSchema = {
  name: 'VBD',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('allowed_operations', t.set(t.string)),
    f('current_operations', t.stringMap),
    required('VM', t.ref('VM'), 'ctor'),
    required('VDI', t.ref('VDI'), 'ctor'),
    f('device', t.string, 'ctor'),
    required('userdevice', t.string),
    required('bootable', t.bool),
    required('mode', t.enum('RO', 'RW')),
    required('type', t.enum('CD', 'Disk', 'Floppy')),
    f('unpluggable', t.bool, 'rw', true),
    f('storage_lock', t.bool),
    required('empty', t.bool, 'ctor'),
    f('other_config', t.stringMap, 'rw'),
    f('currently_attached', t.bool, 'ctor'),
    f('status_code', t.int),
    f('status_detail', t.string),
    f('runtime_properties', t.stringMap),
    f('qos_algorithm_type', t.string, 'rw'),
    f('qos_algorithm_params', t.stringMap, 'rw'),
    f('qos_supported_algorithms', t.set(t.string)),
    f('metrics', t.ref('VBD_metrics')),
  ],
}
