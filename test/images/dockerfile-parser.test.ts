import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aptGetInstalls, argDeclarations, assumesYes, execForm, keyValues, parseDockerfile, shellCommands, stages,
  type DockerfileErrorCode,
} from './dockerfile.ts';
import { inContext, parseDockerignore } from './dockerignore.ts';

function throwsCode(fn: () => unknown, code: DockerfileErrorCode): void {
  assert.throws(fn, (err: unknown) => (err as { code?: string }).code === code);
}

test('GIVEN continuation lines with comments and blank lines inside WHEN parsed THEN one instruction with the lines joined', () => {
  const df = parseDockerfile([
    'FROM debian:bookworm-slim',
    'RUN set -eux; \\',
    '    # a comment inside the continuation',
    '',
    '    apt-get update; \\  ',
    '    true',
    'USER 1000',
  ].join('\n'));
  assert.deepEqual(df.instructions.map((i) => [i.keyword, i.args, i.line]), [
    ['FROM', 'debian:bookworm-slim', 1],
    ['RUN', 'set -eux;     apt-get update;     true', 2],
    ['USER', '1000', 7],
  ]);
});

test('GIVEN parser directives WHEN parsed THEN they are read only at the top and escape changes the continuation character', () => {
  const df = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nRUN a `\n  b\n# escape=\\\n');
  assert.deepEqual(df.directives, { syntax: 'docker/dockerfile:1', escape: '`' });
  assert.deepEqual(df.instructions.map((i) => i.args), ['scratch', 'a   b']);
  const late = parseDockerfile('FROM scratch\n# escape=`\nRUN a \\\n b');
  assert.deepEqual(late.directives, {});
  assert.equal(late.instructions[1]?.args, 'a  b');
});

test('GIVEN exec and shell forms WHEN read THEN only a JSON array of strings is the exec form', () => {
  assert.deepEqual(execForm('["/opt/mailfleet/bin/mailfleet", "agent"]'), ['/opt/mailfleet/bin/mailfleet', 'agent']);
  assert.equal(execForm('/opt/mailfleet/bin/mailfleet agent'), undefined);
  assert.equal(execForm('["a", b]'), undefined, 'invalid JSON falls back to the shell form, as in Docker');
  assert.equal(execForm('["a", 1]'), undefined);
  assert.equal(execForm('{"a": 1}'), undefined);
});

test('GIVEN ENV, LABEL and ARG forms WHEN read THEN names and values come out unquoted', () => {
  const [env, legacy, label, arg] = parseDockerfile([
    'FROM scratch',
    'ENV A=1 B="two words" C=a\\ b',
    'ENV PATH /usr/bin:/bin extra',
    'LABEL org.opencontainers.image.title="mailfleet" x=\'y z\'',
    'ARG MAILFLEET_IMAGE VERSION=1.0',
  ].join('\n')).instructions.slice(1);
  assert.deepEqual(keyValues(env!), [['A', '1'], ['B', 'two words'], ['C', 'a b']]);
  assert.deepEqual(keyValues(legacy!), [['PATH', '/usr/bin:/bin extra']]);
  assert.deepEqual(keyValues(label!), [['org.opencontainers.image.title', 'mailfleet'], ['x', 'y z']]);
  assert.deepEqual(argDeclarations(arg!), [{ name: 'MAILFLEET_IMAGE', value: undefined }, { name: 'VERSION', value: '1.0' }]);
});

test('GIVEN a multi-stage file WHEN split THEN global ARGs, stage names and flags are kept', () => {
  const df = parseDockerfile('ARG BASE\nFROM ${BASE} AS Build\nCOPY --from=x --chown=1:1 a b\nFROM debian:bookworm-slim\nCOPY --from=build /a /a\n');
  const { globalArgs, stages: list } = stages(df);
  assert.deepEqual(globalArgs.map((a) => a.args), ['BASE']);
  assert.deepEqual(list.map((s) => [s.base, s.name]), [['${BASE}', 'build'], ['debian:bookworm-slim', undefined]]);
  assert.deepEqual(list[0]?.instructions[0]?.flags, { from: 'x', chown: '1:1' });
  assert.equal(list[0]?.instructions[0]?.args, 'a b');
});

test('GIVEN hostile input WHEN parsed THEN unknown instructions, binary noise, heredocs and bad directives are refused', () => {
  throwsCode(() => parseDockerfile('FROM scratch\nFROBNICATE x'), 'DOCKERFILE_SYNTAX');
  throwsCode(() => parseDockerfile('FROM scratch\n\u0000\u0001\u00ff\ufffd garbage'), 'DOCKERFILE_SYNTAX');
  throwsCode(() => parseDockerfile(Buffer.from([0x46, 0x52, 0x4f, 0x4d, 0x20, 0xc3, 0x28, 0x0a, 0xff, 0xfe]).toString('utf8')), 'DOCKERFILE_SYNTAX');
  throwsCode(() => parseDockerfile('FROM scratch\nRUN <<EOF\necho hi\nEOF'), 'DOCKERFILE_UNSUPPORTED');
  throwsCode(() => parseDockerfile('# escape=x\nFROM scratch'), 'DOCKERFILE_SYNTAX');
  throwsCode(() => stages(parseDockerfile('RUN true\nFROM scratch')), 'DOCKERFILE_SYNTAX');
  throwsCode(() => stages(parseDockerfile('ARG A\n')), 'DOCKERFILE_SYNTAX');
  throwsCode(() => keyValues(parseDockerfile('FROM scratch\nLABEL "unterminated').instructions[1]!), 'DOCKERFILE_SYNTAX');
});

test('GIVEN an over-long line and a continuation at end of file WHEN parsed THEN both are kept whole', () => {
  const long = 'x'.repeat(1_000_000);
  const df = parseDockerfile(`FROM scratch\nLABEL a=${long}\nRUN echo \\`);
  assert.equal(df.instructions[1]?.args.length, long.length + 2);
  assert.equal(df.instructions[2]?.args, 'echo');
});

test('GIVEN shell scripts WHEN split into commands THEN operators split, quotes and substitutions stay in their word', () => {
  assert.deepEqual(shellCommands(`set -eux; a="$(node -p "require('./x.json').y")"; echo 'a;b' && printf "q\\"t" | cat`), [
    ['set', '-eux'],
    [`a=$(node -p "require('./x.json').y")`],
    ['echo', 'a;b'],
    ['printf', 'q"t'],
    ['cat'],
  ]);
  throwsCode(() => shellCommands('echo "open'), 'DOCKERFILE_SYNTAX');
  throwsCode(() => shellCommands('echo $(open'), 'DOCKERFILE_SYNTAX');
});

test('GIVEN apt-get commands WHEN installs are extracted THEN packages, options and env assignments are separated', () => {
  const installs = aptGetInstalls('apt-get update; DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -qy install --no-install-recommends postfix postfix-ldap && rm -rf /var/lib/apt/lists/*; apt-get purge -y x');
  assert.deepEqual(installs, [{
    options: ['-o', 'Dpkg::Use-Pty=0', '-qy', '--no-install-recommends'],
    packages: ['postfix', 'postfix-ldap'],
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  }]);
  assert.equal(assumesYes(['-qy']), true);
  assert.equal(assumesYes(['--yes']), true);
  assert.equal(assumesYes(['-q', '--no-install-recommends']), false);
});

test('GIVEN a whitelist .dockerignore WHEN paths are checked THEN only re-included paths and their contents are in the context', () => {
  const patterns = parseDockerignore('# only sources\n*\n!src/\n!package.json\nsrc/**/*.secret\n');
  assert.equal(inContext(patterns, 'src/cli/main.ts'), true);
  assert.equal(inContext(patterns, 'package.json'), true);
  assert.equal(inContext(patterns, 'src/a/b/key.secret'), false);
  assert.equal(inContext(patterns, 'node_modules/x/index.js'), false);
  assert.equal(inContext(patterns, '.git/HEAD'), false);
  assert.equal(inContext(parseDockerignore(''), 'anything'), true);
});
