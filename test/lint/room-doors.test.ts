import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import roomDoors from '../../eslint-rules/room-doors.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

/*
 * A small repository on disk, because rooms are found by their index.ts:
 *   src/errors.ts            not in a room
 *   src/cli/up.ts            cli/ has no index.ts: not a room
 *   src/spec/{index,load,types}.ts
 *   src/kube/{index,render,heavy}.ts          heavy.ts is a declared entry point
 *   src/kube/operator/{index,loop}.ts         a room inside a room; its index.ts is declared
 *   src/kube/inner/{index,x}.ts               a room inside a room, not declared
 *   src/protocol/{index}.ts, src/protocol/client/smtp.ts   a sub-folder without a door
 */
const root = mkdtempSync(join(tmpdir(), 'mailfleet-room-doors-'));
after(() => rmSync(root, { recursive: true, force: true }));
for (const file of [
  'src/errors.ts', 'src/cli/up.ts', 'src/spec/index.ts', 'src/spec/load.ts', 'src/spec/types.ts',
  'src/kube/index.ts', 'src/kube/render.ts', 'src/kube/heavy.ts', 'src/kube/operator/index.ts', 'src/kube/operator/loop.ts',
  'src/kube/inner/index.ts', 'src/kube/inner/x.ts', 'src/protocol/index.ts', 'src/protocol/client/smtp.ts',
]) {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), 'export {};\n');
}
const at = (file: string): string => join(root, file);
const options = [{ root, entryPoints: ['src/kube/heavy.ts', 'src/kube/operator/index.ts'], mirrors: { 'test/integration': 'src', test: 'src' } }];

const tester = new RuleTester({ languageOptions: { parser: tseslint.parser, ecmaVersion: 2024, sourceType: 'module' } });

tester.run('room-doors', roomDoors, {
  valid: [
    { name: 'GIVEN a file outside every room WHEN it imports a door THEN it passes', filename: at('src/cli/up.ts'), code: "import { x } from '../spec/index.ts';", options },
    { name: 'GIVEN a file in a room WHEN it imports a sibling THEN it passes', filename: at('src/spec/load.ts'), code: "import type { T } from './types.ts';", options },
    { name: 'GIVEN a room WHEN it imports a file outside every room THEN it passes', filename: at('src/spec/load.ts'), code: "import { E } from '../errors.ts';", options },
    { name: 'GIVEN a folder without index.ts WHEN an outsider imports its files THEN it passes', filename: at('src/spec/load.ts'), code: "import { up } from '../cli/up.ts';", options },
    { name: 'GIVEN a declared entry point WHEN an outsider imports it THEN it passes', filename: at('src/cli/up.ts'), code: "import { k } from '../kube/heavy.ts';", options },
    { name: 'GIVEN a declared nested door WHEN an outsider imports it THEN it passes', filename: at('src/cli/up.ts'), code: "export { o } from '../kube/operator/index.ts';", options },
    { name: 'GIVEN a nested room WHEN it imports its parent room\'s internals THEN it passes', filename: at('src/kube/operator/loop.ts'), code: "import { r } from '../render.ts';", options },
    { name: 'GIVEN the parent room WHEN it imports a nested room\'s door THEN it passes', filename: at('src/kube/render.ts'), code: "import { x } from './inner/index.ts';", options },
    { name: 'GIVEN a sub-folder without a door WHEN its room imports it THEN it passes', filename: at('src/protocol/index.ts'), code: "export * from './client/smtp.ts';", options },
    { name: 'GIVEN a room\'s own test WHEN it imports the room\'s internals THEN it passes', filename: at('test/spec/load.test.ts'), code: "import { l } from '../../src/spec/load.ts';", options },
    { name: 'GIVEN a room\'s integration test WHEN it imports the room\'s internals THEN it passes', filename: at('test/integration/kube/operator/loop.test.ts'), code: "import { l } from '../../../../src/kube/operator/loop.ts';", options },
    { name: 'GIVEN a package import THEN it is not a room', filename: at('src/cli/up.ts'), code: "import { KubeConfig } from '@kubernetes/client-node';", options },
    { name: 'GIVEN test helpers WHEN they import other test files THEN it passes', filename: at('test/dns/wire.test.ts'), code: "import { noise } from '../protocol/chunks.ts';", options },
  ],
  invalid: [
    {
      name: 'GIVEN an outsider WHEN it imports a room\'s internal file THEN it names the room and its door',
      filename: at('src/cli/up.ts'),
      code: "import { load } from '../spec/load.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: '../spec/load.ts', room: 'src/spec', doors: 'src/spec/index.ts' } }],
    },
    {
      name: 'GIVEN a type-only import THEN it is checked too',
      filename: at('src/kube/render.ts'),
      code: "import type { T } from '../spec/types.ts';",
      options,
      errors: [{ messageId: 'inside' }],
    },
    {
      name: 'GIVEN re-exports, dynamic imports and import types THEN each is checked',
      filename: at('src/cli/up.ts'),
      code: "export * from '../spec/load.ts';\nexport { a } from '../spec/types.ts';\nawait import('../kube/render.ts');\ntype X = import('../spec/types.ts').T;",
      options,
      errors: [1, 2, 3, 4].map((line) => ({ messageId: 'inside', line })),
    },
    {
      name: 'GIVEN a room with declared entry points WHEN an outsider reaches inside THEN every door is offered',
      filename: at('src/cli/up.ts'),
      code: "import { r } from '../kube/render.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: '../kube/render.ts', room: 'src/kube', doors: 'src/kube/index.ts or src/kube/heavy.ts or src/kube/operator/index.ts' } }],
    },
    {
      name: 'GIVEN a nested room WHEN an outsider imports its internals THEN the nested room is named',
      filename: at('src/cli/up.ts'),
      code: "import { l } from '../kube/operator/loop.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: '../kube/operator/loop.ts', room: 'src/kube/operator', doors: 'src/kube/operator/index.ts' } }],
    },
    {
      name: 'GIVEN a nested room whose door is not declared WHEN an outsider of the parent imports that door THEN it must use the parent\'s',
      filename: at('src/cli/up.ts'),
      code: "import { x } from '../kube/inner/index.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: '../kube/inner/index.ts', room: 'src/kube', doors: 'src/kube/index.ts or src/kube/heavy.ts or src/kube/operator/index.ts' } }],
    },
    {
      name: 'GIVEN the parent room WHEN it imports a nested room\'s internals THEN it must use the nested door',
      filename: at('src/kube/render.ts'),
      code: "import { x } from './inner/x.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: './inner/x.ts', room: 'src/kube/inner', doors: 'src/kube/inner/index.ts' } }],
    },
    {
      name: 'GIVEN a sub-folder without a door WHEN an outsider imports it THEN its enclosing room is named',
      filename: at('src/kube/render.ts'),
      code: "import { smtpEhlo } from '../protocol/client/smtp.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: '../protocol/client/smtp.ts', room: 'src/protocol', doors: 'src/protocol/index.ts' } }],
    },
    {
      name: 'GIVEN one room\'s test WHEN it imports another room\'s internals THEN it is refused',
      filename: at('test/kube/render.test.ts'),
      code: "import { load } from '../../src/spec/load.ts';",
      options,
      errors: [{ messageId: 'inside', data: { specifier: '../../src/spec/load.ts', room: 'src/spec', doors: 'src/spec/index.ts' } }],
    },
    {
      name: 'GIVEN a shared test helper WHEN it imports a room\'s internals THEN it is refused',
      filename: at('test/support/platform.ts'),
      code: "import { load } from '../../src/spec/load.ts';",
      options,
      errors: [{ messageId: 'inside' }],
    },
    {
      name: 'GIVEN a test that only looks like it mirrors a room WHEN it sits one level up THEN it is an outsider',
      filename: at('test/kube-addresses.test.ts'),
      code: "import { r } from '../src/kube/render.ts';",
      options,
      errors: [{ messageId: 'inside' }],
    },
    {
      name: 'GIVEN a benchmark WHEN it imports a room\'s internals THEN it is refused (bench/ mirrors nothing)',
      filename: at('bench/delivery.ts'),
      code: "import { load } from '../src/spec/load.ts';",
      options,
      errors: [{ messageId: 'inside' }],
    },
  ],
});
