// What a new user sees first (`npm start`, `--help`), and what start-up costs: a command loads
// only the modules it uses, so `vhd info` does not pay for the AWS SDK, the simulator or the
// schema and YAML libraries (checked by recording the modules a real process loads: no timing).
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { runCliProcess } from './cli-support.ts'

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-start-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function loadedModules(args: readonly string[], name: string): Promise<string[]> {
  const file = join(dir, `${name}.txt`)
  const run = await runCliProcess(args, { recordImportsTo: file })
  assert.equal(run.status, 0, run.stderr)
  return (await readFile(file, 'utf8')).split('\n').filter((url) => url !== '')
}

const HEAVY = [
  /node_modules\/@aws-sdk\//,
  /node_modules\/@smithy\//,
  /\/src\/simulator\//,
  /node_modules\/zod\//,
  /node_modules\/yaml\//,
]

describe('CLI start', () => {
  it('without arguments (npm start) welcomes with examples that exist and the next step', async () => {
    const { code, out, err } = await cli()
    assert.deepEqual([code, err], [0, ''])
    assert.match(out, /^xapi-backup \S+: backup, replication and restore/)
    for (const example of [
      /^ {4}npx xapi-backup simulator$/m,
      /^ {4}npx xapi-backup vhd info test\/fixtures\/vhd\/qemu-empty-100M\.vhd$/m,
      /^ {4}npx xapi-backup backups list \/srv\/backups$/m,
    ])
      assert.match(out, example)
    assert.match(out, /^Next: npx xapi-backup --help/m)
    assert.match(out, /^ {4}npx xapi-backup demo$/m)
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>
    }
    assert.equal(pkg.scripts.start, 'tsx src/cli/main.ts demo', 'npm start runs the demo')
  })

  it('--help shows examples, the remote forms and the exit codes', async () => {
    const { code, out } = await cli('--help')
    assert.equal(code, 0)
    assert.match(out, /^Examples:\n {2}xapi-backup demo /m)
    assert.match(out, /^Remotes:\n {2}\/srv\/backups or file:\/\/\/srv\/backups /m)
    assert.match(out, /^Exit codes:\n {2}0 {2}success\n {2}1 {2}failure, or findings/m)
    assert.match(out, /^Next: xapi-backup <command> --help/m)
  })

  it(
    'vhd info and --help load no AWS SDK, simulator, zod or yaml; backups list on a folder no SDK',
    { timeout: 180_000 },
    async () => {
      const fixture = 'test/fixtures/vhd/qemu-empty-100M.vhd'
      for (const [name, args] of [
        ['vhd-info', ['vhd', 'info', fixture]],
        ['help', ['--help']],
      ] as const) {
        const loaded = await loadedModules(args, name)
        assert.ok(
          loaded.some((url) => url.includes('/node_modules/commander/')),
          `${name}: the recorder works`,
        )
        for (const heavy of HEAVY) assert.ok(!loaded.some((url) => heavy.test(url)), `${name} loads ${heavy}`)
        // Only the command that runs is loaded: vhd info needs no task log, repository or remote code.
        if (name === 'vhd-info')
          assert.deepEqual(
            loaded.filter((url) => /\/src\/(tasks|repository|remotes|app)\//.test(url)),
            [],
            'vhd info loads other commands',
          )
      }
      const listed = await loadedModules(['backups', 'list', dir], 'backups-list')
      assert.ok(!listed.some((url) => /@aws-sdk|\/src\/simulator\//.test(url)), 'backups list on a folder')
    },
  )
})
