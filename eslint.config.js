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
];

/**
 * Tests mirror src/ (STYLE.md): a file under test/backends/ counts as if it were in src/backends/, so a
 * room's own tests may import its internals (a unit test of plan.ts imports plan.ts) while tests of
 * other rooms, test/support/ and bench/ go through the doors like any other outsider. Allowing all of
 * test/ everywhere would let shared helpers and cross-room tests grow on internals no door promises.
 */
const MIRRORS = { 'test/integration': 'src', test: 'src' };

/**
 * Temporary: folders being reshaped by work in flight. Their violations are warnings (printed on every
 * run, not failing it) until that work lands; then this list goes.
 */
const PENDING = ['src/agent/**', 'src/backends/**', 'src/runtime/local/**', 'test/images/images.ts'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'state/', '.state/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { mailfleet: { rules: { 'room-doors': roomDoors } } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'mailfleet/room-doors': ['error', { entryPoints: ENTRY_POINTS, mirrors: MIRRORS }],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: PENDING,
    rules: { 'mailfleet/room-doors': 'warn' },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
