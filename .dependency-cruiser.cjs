// Layer rules of docs/design.md §3 (from architecture.md §3), checked by `npm run lint`.
// Paths are relative to the directory depcruise runs in, so the same file also checks
// the violation fixture under test/fixtures/layer-violation/.
const contracts = '^src/(xapi|remotes)/(types|remote|[a-z-]+-error)\\.ts$'
// Tests and their helpers may wire concrete implementations (a memory remote, the simulator).
const TESTS = ['\\.test\\.ts$', '/testing/']

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'shared-is-the-bottom',
      comment: 'src/shared imports node:* and itself only.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'leaves-import-shared-only',
      comment: 'formats, tasks, xapi and remotes are leaves: they import src/shared and their own folder.',
      severity: 'error',
      from: { path: '^src/(formats|tasks|xapi|remotes)/' },
      to: { path: '^src/', pathNot: ['^src/shared/', '^src/$1/'] },
    },
    {
      name: 'repository-uses-contracts',
      comment:
        'repository imports shared, tasks, formats and the Remote port only, never a concrete remote or XAPI.',
      severity: 'error',
      from: { path: '^src/repository/', pathNot: TESTS },
      to: {
        path: '^src/',
        pathNot: ['^src/(shared|tasks|formats|repository)/', '^src/remotes/(remote|[a-z-]+-error)\\.ts$'],
      },
    },
    {
      name: 'engine-uses-contracts',
      comment:
        'engine imports shared, tasks, formats, repository, and xapi/remotes contracts (types, errors) only.',
      severity: 'error',
      from: { path: '^src/engine/', pathNot: TESTS },
      to: { path: '^src/', pathNot: ['^src/(shared|tasks|formats|repository|engine)/', contracts] },
    },
    {
      name: 'simulator-is-apart',
      comment:
        'The simulator imports shared, tasks, formats and xapi wire codecs; never engine, repository or remotes.',
      severity: 'error',
      from: { path: '^src/simulator/' },
      to: { path: '^src/(engine|repository|remotes|app|cli)/' },
    },
    {
      name: 'no-upward-to-app-or-cli',
      comment: 'Only cli, daemon and api import app; nothing imports cli.',
      severity: 'error',
      from: { path: '^src/(shared|tasks|formats|xapi|remotes|repository|engine|simulator)/' },
      to: { path: '^src/(app|cli)/' },
    },
    {
      name: 'testing-helpers-stay-in-tests',
      comment: '**/testing/** is for tests and the simulator only.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['\\.test\\.ts$', '^src/simulator/', '/testing/'] },
      to: { path: '/testing/' },
    },
    {
      name: 'aws-sdk-quarantined',
      comment: '@aws-sdk/* only under src/remotes/s3/.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/remotes/s3/' },
      to: { path: '@aws-sdk/' },
    },
    {
      name: 'zod-at-boundaries',
      comment: 'zod validates input at boundaries only: repository metadata, app config, later the API.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(repository|app|api)/' },
      to: { path: 'node_modules/zod/' },
    },
    {
      name: 'daemon-below-api',
      comment:
        'daemon (store, scheduler, runs, notifications) imports shared, tasks, engine and app; never api or cli.',
      severity: 'error',
      from: { path: '^src/daemon/', pathNot: TESTS },
      to: { path: '^src/(api|cli|simulator)/' },
    },
    {
      name: 'api-below-cli',
      comment: 'api (HTTP routes and the server composition) never imports cli.',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'nothing-imports-the-server',
      comment: 'Only cli (and tests) import daemon and api; the layers below never do.',
      severity: 'error',
      from: { path: '^src/(shared|tasks|formats|xapi|remotes|repository|engine|simulator|app)/' },
      to: { path: '^src/(daemon|api)/' },
    },
    {
      name: 'web-is-a-browser-bundle',
      comment:
        'The console (web/) may import only type-level or browser-safe code of src (tasks, daemon/model).',
      severity: 'error',
      from: { path: '^web/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/tasks/(tree|events|format)\\.ts$',
          '^src/daemon/model\\.ts$',
          '^src/shared/json\\.ts$',
        ],
      },
    },
    {
      name: 'no-cycles',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test/fixtures)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
}
