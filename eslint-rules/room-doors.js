/**
 * room-doors: imports from outside a room go through its door.
 *
 * A room is a folder below the source root (`src/`) that has an `index.ts`; the `index.ts` is its door.
 * For every room that encloses an imported file, the importing file must either lie inside that room
 * or import the room's door, or one of the declared entry points (`entryPoints`): second, named doors
 * for when the main one would pull in something heavy. An entry point is a door of every room that
 * encloses it, so a nested room's `index.ts` is reachable from outside the parent room only if it is
 * declared. Files directly in the source root (errors.ts, log.ts) and folders without an `index.ts`
 * (cli/) are not rooms: anything may import them, and they import rooms through their doors.
 *
 * `mirrors` maps other trees onto the source root, longest prefix first: with `{ 'test': 'src' }`,
 * `test/backends/plan.test.ts` counts as `src/backends/plan.test.ts`, i.e. as inside the backends
 * room, so the tests of a room may import its internals, and only its own.
 *
 * Checked: import and export-from declarations (type-only ones too), `import('…')` expressions and
 * `import('…')` types with a literal, relative specifier. Package imports are not rooms.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

const DOOR = 'index.ts';

/** `a` is `b` or lies below it (both absolute, normalized). */
function within(a, b) {
  return a === b || a.startsWith(b + sep);
}

function show(root, path) {
  return relative(root, path).split(sep).join('/');
}

/** @type {import('eslint').Rule.RuleModule} */
export default {
  meta: {
    type: 'problem',
    docs: { description: 'Imports from outside a room (a src/ folder with an index.ts) go through its index.ts or a declared entry point' },
    schema: [
      {
        type: 'object',
        properties: {
          root: { type: 'string', description: 'Repository root the other paths are relative to; default: ESLint cwd.' },
          source: { type: 'string', description: 'Folder whose sub-folders with an index.ts are rooms; default "src".' },
          entryPoints: { type: 'array', items: { type: 'string' }, uniqueItems: true, description: 'Second doors, as paths from the root.' },
          mirrors: {
            type: 'object',
            additionalProperties: { type: 'string' },
            description: 'Trees counted as if they were at another place below the root, e.g. { "test": "src" }.',
          },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      inside: "'{{specifier}}' reaches inside the room {{room}}/ from outside it; import {{doors}}.",
    },
  },

  create(context) {
    const options = context.options[0] ?? {};
    const root = resolve(context.cwd, options.root ?? '.');
    const source = resolve(root, options.source ?? 'src');
    const entryPoints = new Set((options.entryPoints ?? []).map((p) => resolve(root, p)));
    const mirrors = Object.entries(options.mirrors ?? {})
      .map(([from, to]) => [resolve(root, from), resolve(root, to)])
      .sort(([a], [b]) => b.length - a.length);

    const filename = resolve(context.cwd, context.filename);
    const mirror = mirrors.find(([from]) => within(filename, from));
    const importer = mirror ? resolve(mirror[1], relative(mirror[0], filename)) : filename;

    const isRoom = new Map();
    function room(dir) {
      let found = isRoom.get(dir);
      if (found === undefined) {
        found = existsSync(resolve(dir, DOOR));
        isRoom.set(dir, found);
      }
      return found;
    }

    /** Every room enclosing `file`, innermost first. */
    function roomsOf(file) {
      const rooms = [];
      for (let dir = dirname(file); within(dir, source) && dir !== source; dir = dirname(dir)) {
        if (room(dir)) rooms.push(dir);
      }
      return rooms;
    }

    function check(node) {
      if (!node || node.type !== 'Literal' || typeof node.value !== 'string') return;
      const specifier = node.value;
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) return;
      const target = resolve(dirname(filename), specifier);
      if (!isAbsolute(target) || !within(target, source)) return;
      if (entryPoints.has(target)) return;
      for (const dir of roomsOf(target)) {
        if (within(importer, dir) || target === resolve(dir, DOOR)) continue;
        const doors = [resolve(dir, DOOR), ...[...entryPoints].filter((e) => within(e, dir) && e !== resolve(dir, DOOR))];
        context.report({
          node,
          messageId: 'inside',
          data: { specifier, room: show(root, dir), doors: doors.map((d) => show(root, d)).join(' or ') },
        });
        return;
      }
    }

    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      TSImportType: (node) => check(node.source),
    };
  },
};
