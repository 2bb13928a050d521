import { t } from '../types.ts'
import type { ClassSchema } from './field.ts'
import { f } from './field.ts'

/** Field table of `pool` (xapi.md §2.6: exactly one record). */
export const poolSchema: ClassSchema = {
  name: 'pool',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('name_label', t.string, 'rw'),
    f('name_description', t.string, 'rw'),
    f('master', t.ref('host')),
    f('default_SR', t.ref('SR'), 'rw'),
    f('suspend_image_SR', t.ref('SR'), 'rw'),
    f('crash_dump_SR', t.ref('SR'), 'rw'),
    f('other_config', t.stringMap, 'rw'),
    f('ha_enabled', t.bool),
    f('tags', t.set(t.string), 'rw'),
    f('restrictions', t.stringMap),
  ],
}

/** Field table of `host` (xapi.md §2.6). */
export const hostSchema: ClassSchema = {
  name: 'host',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('name_label', t.string, 'rw'),
    f('name_description', t.string, 'rw'),
    f('allowed_operations', t.set(t.string)),
    f('current_operations', t.stringMap),
    f('API_version_major', t.int, 'ro', 2),
    f('API_version_minor', t.int, 'ro', 21),
    f('API_version_vendor', t.string, 'ro', 'XenSource'),
    f('software_version', t.stringMap),
    f('enabled', t.bool, 'ro', true),
    f('other_config', t.stringMap, 'rw'),
    f('PBDs', t.set(t.ref('PBD'))),
    f('PIFs', t.set(t.ref('PIF'))),
    f('resident_VMs', t.set(t.ref('VM'))),
    f('hostname', t.string),
    f('address', t.string),
    f('control_domain', t.ref('VM')),
    f('tags', t.set(t.string), 'rw'),
  ],
}

/** The task status enum (xapi.md §1.6). */
export const TASK_STATUSES = ['pending', 'success', 'failure', 'cancelling', 'cancelled'] as const

/** Field table of `task` (xapi.md §1.6). */
export const taskSchema: ClassSchema = {
  name: 'task',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('name_label', t.string),
    f('name_description', t.string),
    f('allowed_operations', t.set(t.enum('cancel', 'destroy'))),
    f('current_operations', t.map(t.string, t.enum('cancel', 'destroy'))),
    f('created', t.datetime),
    f('finished', t.datetime),
    f('status', t.enum(...TASK_STATUSES)),
    f('resident_on', t.ref('host')),
    f('progress', t.float),
    f('type', t.string, 'ro', '<none/>'),
    f('result', t.string),
    f('error_info', t.set(t.string)),
    f('other_config', t.stringMap, 'rw'),
    f('subtask_of', t.ref('task')),
    f('subtasks', t.set(t.ref('task'))),
    f('backtrace', t.string, 'ro', '()'),
  ],
}

/** Field table of `session` (xapi.md §1.4). */
export const sessionSchema: ClassSchema = {
  name: 'session',
  genericCreate: false,
  fields: [
    f('uuid', t.string),
    f('this_host', t.ref('host')),
    f('this_user', t.ref('user')),
    f('last_active', t.datetime),
    f('pool', t.bool),
    f('other_config', t.stringMap, 'rw'),
    f('is_local_superuser', t.bool, 'ro', true),
    f('subject', t.ref('subject')),
    f('validation_time', t.datetime),
    f('auth_user_sid', t.string),
    f('auth_user_name', t.string),
    f('rbac_permissions', t.set(t.string)),
    f('tasks', t.set(t.ref('task'))),
    f('parent', t.ref('session')),
    f('originator', t.string),
    f('client_certificate', t.bool),
  ],
}
