import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import roomDoors from './eslint-rules/room-doors.js';

/**
 * Second doors: files that may be imported from outside their room besides its index.ts, for when
 * the index.ts would pull in something heavy. Each is a door of every room enclosing it.
 */
const ENTRY_POINTS = [
  // The operator (Kubernetes client, informers, HTTP server) apart from the renderer's door, which
  // `render`, the agent and most tests load without any of that.
  'src/runtime/kube/operator/index.ts',
  // The EndpointSlice source and the Lease (the Kubernetes client) apart from the rest of backend sync,
  // which the single-host runtime loads.
  'src/backends/kube.ts',
  // The spec's field patterns without the validator (ajv and yaml take about 0.1 s to load), for the
  // CLI's flag parser.
  'src/spec/patterns.ts',
  // The codecs that reading a daemon's metrics takes, which only the agents of proxy and mailbox load.
  'src/protocol/scrape.ts',
  // The Postfix log exporter as the agent of mta and msa runs it, without the follower and HTTP server of its command.
  'src/exporter/in-agent.ts',
  // The policy rules document (schema, types, checks) without the policy server (node-redis, prom-client),
  // for the spec, which every agent loads.
  'src/policy/document.ts',
  // The policy-protocol client session and the warning throttle without the policy server (node-redis), for the
  // proxies' quota relay, which serves the same protocol; the throttle for the logs gateway too.
  'src/policy/session.ts',
  'src/policy/log-throttle.ts',
];

/**
 * Tests mirror src/ (STYLE.md): a file under test/backends/ counts as if it were in src/backends/, so a
 * room's own tests may import its internals (a unit test of plan.ts imports plan.ts) while tests of
 * other rooms, test/support/ and bench/ go through the doors like any other outsider. Allowing all of
 * test/ everywhere would let shared helpers and cross-room tests grow on internals no door promises.
 */
const MIRRORS = { 'test/integration': 'src', test: 'src' };

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'state/', '.state/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { mailfleet: { rules: { 'room-doors': roomDoors } } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'mailfleet/room-doors': ['error', { entryPoints: ENTRY_POINTS, mirrors: MIRRORS }],
      // node:test's test(), it(), describe() and suite() return promises the runner awaits and reports itself.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // `async` without `await` is how a function meets a Promise-returning interface (Daemon.init, a
      // command's run) while still turning a throw into a rejection; dropping it would let it throw
      // synchronously instead. The promise rules above catch the real mistakes.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests and benchmarks handle untyped JSON on purpose (the in-process Kubernetes API server, parsed
    // replies) and check its shape with assertions; the promise rules still apply to them in full.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
