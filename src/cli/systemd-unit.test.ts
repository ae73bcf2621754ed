import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AgentUnitOptions, quoteArg, renderAgentUnit, unitFileName } from './systemd-unit.js';

const KEY = '/etc/burrow/dev1_key';
const BASE: AgentUnitOptions = {
  name: 'dev1',
  command: ['/usr/bin/node', '/opt/burrow/main.js', 'agent', '--identity', KEY],
  identityFile: KEY,
  writablePaths: [],
};

/** Every value of `key=` in the unit, in order. */
function values(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

function one(unit: string, key: string): string | undefined {
  const all = values(unit, key);
  assert.ok(all.length <= 1, `${key}= appears ${all.length} times`);
  return all[0];
}

describe('unitFileName', () => {
  it('names the unit after the device', () =>
    assert.equal(unitFileName('dev1'), 'burrow-agent-dev1.service'));
  for (const bad of ['', 'Dev1', 'a/b', 'a b', '../x', Array(4).fill('x'.repeat(60)).join('.')]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 12))}`, () =>
      assert.throws(() => unitFileName(bad), /--name: /));
  }
});

describe('quoteArg', () => {
  const cases: [string, string][] = [
    ['plain', '"plain"'],
    ['with space', '"with space"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['100%', '"100%%"'],
    ['%d/identity', '"%%d/identity"'],
    ['$HOME and $X', '"$$HOME and $$X"'],
    ['\\"', '"\\\\\\""'],
    ['', '""'],
  ];
  for (const [arg, want] of cases)
    it(`${JSON.stringify(arg)} → ${want}`, () => assert.equal(quoteArg(arg), want));
  it('refuses control characters', () =>
    assert.throws(() => quoteArg('a\nb'), /control character/));
});

describe('renderAgentUnit', () => {
  it('quotes every ExecStart argument', () => {
    const unit = renderAgentUnit({
      ...BASE,
      command: [...BASE.command, '--tag', 'a "b" $c 50% d\\e'],
    });
    assert.equal(
      one(unit, 'ExecStart'),
      '"/usr/bin/node" "/opt/burrow/main.js" "agent" "--identity" "%d/identity" "--tag" "a \\"b\\" $$c 50%% d\\\\e"',
    );
  });

  const identityForms: [string, readonly string[], string][] = [
    ['--identity FILE', ['/usr/bin/node', 'm.js', '--identity', KEY], '"--identity" "%d/identity"'],
    ['--identity=FILE', ['/usr/bin/node', 'm.js', `--identity=${KEY}`], '"--identity=%d/identity"'],
  ];
  for (const [form, command, want] of identityForms) {
    it(`loads the key as a credential (${form})`, () => {
      const unit = renderAgentUnit({ ...BASE, command });
      assert.equal(one(unit, 'LoadCredential'), `identity:${KEY}`);
      assert.ok(one(unit, 'ExecStart')?.endsWith(want), one(unit, 'ExecStart'));
      assert.ok(!one(unit, 'ExecStart')?.includes(KEY));
    });
  }
  it('replaces only the key path that follows --identity', () => {
    const command = ['/usr/bin/node', 'm.js', '--note', KEY, '--identity', KEY];
    const exec = one(renderAgentUnit({ ...BASE, command }), 'ExecStart');
    assert.equal(exec, `"/usr/bin/node" "m.js" "--note" "${KEY}" "--identity" "%d/identity"`);
  });
  it('refuses a command without --identity FILE', () =>
    assert.throws(
      () =>
        renderAgentUnit({ ...BASE, command: ['/usr/bin/node', 'm.js', '--identity', '/other'] }),
      /no --identity \/etc\/burrow\/dev1_key/,
    ));
  it('refuses relative paths', () => {
    assert.throws(
      () => renderAgentUnit({ ...BASE, command: ['node', '--identity', KEY] }),
      /absolute/,
    );
    assert.throws(() => renderAgentUnit({ ...BASE, writablePaths: ['kh'] }), /absolute/);
  });

  it('runs as a DynamicUser unless a user is given', () => {
    const dynamic = renderAgentUnit(BASE);
    assert.equal(one(dynamic, 'DynamicUser'), 'yes');
    assert.equal(one(dynamic, 'User'), undefined);
    const named = renderAgentUnit({ ...BASE, user: 'burrow' });
    assert.equal(one(named, 'User'), 'burrow');
    assert.equal(one(named, 'DynamicUser'), undefined);
  });

  const homeCases: [string, Partial<AgentUnitOptions>, string][] = [
    ['script in /opt', {}, 'yes'],
    [
      'script under /home',
      { command: ['/usr/bin/node', '/home/u/b/main.js', '--identity', KEY] },
      'read-only',
    ],
    [
      'node under /root',
      { command: ['/root/.nvm/node', '/opt/m.js', '--identity', KEY] },
      'read-only',
    ],
    [
      '--flag=/run/user/…',
      { command: ['/usr/bin/node', '--x=/run/user/1000/s', '--identity', KEY] },
      'read-only',
    ],
    ['writable path under /home', { writablePaths: ['/home/u/.ssh/known_hosts'] }, 'read-only'],
    [
      '/homework is not a home',
      { command: ['/usr/bin/node', '/homework/m.js', '--identity', KEY] },
      'yes',
    ],
    [
      'only the key under /home (it comes through the credential)',
      {
        command: ['/usr/bin/node', '/opt/m.js', '--identity', '/home/u/k'],
        identityFile: '/home/u/k',
      },
      'yes',
    ],
  ];
  for (const [what, change, want] of homeCases) {
    it(`ProtectHome=${want}: ${what}`, () => {
      const unit = renderAgentUnit({ ...BASE, ...change });
      assert.equal(one(unit, 'ProtectHome'), want);
      if (want === 'read-only')
        assert.match(unit, /# read-only, not yes: .*ProtectHome=yes would hide/);
    });
  }

  const writableCases: [readonly string[], string | undefined][] = [
    [[], undefined],
    [['/var/lib/kh/known_hosts'], '"/var/lib/kh"'],
    [['/var/lib/kh/a', '/var/lib/kh/b', '/srv/my dir/c'], '"/var/lib/kh" "/srv/my dir"'],
  ];
  for (const [paths, want] of writableCases) {
    it(`ReadWritePaths for ${JSON.stringify(paths)}`, () =>
      assert.equal(
        one(renderAgentUnit({ ...BASE, writablePaths: paths }), 'ReadWritePaths'),
        want,
      ));
  }

  it('carries the restart policy, state directory and sandbox', () => {
    const unit = renderAgentUnit(BASE);
    const want: [string, string][] = [
      ['Restart', 'always'],
      ['RestartSec', '1'],
      ['RestartPreventExitStatus', '2'],
      ['StartLimitIntervalSec', '0'],
      ['StateDirectory', 'burrow/dev1'],
      ['Environment', 'BURROW_DATA_DIR=%S/burrow/dev1'],
      ['ProtectSystem', 'strict'],
      ['CapabilityBoundingSet', ''],
      ['UMask', '0077'],
      ['WantedBy', 'multi-user.target'],
    ];
    for (const [key, value] of want) assert.equal(one(unit, key), value, key);
    assert.deepEqual(values(unit, 'SystemCallFilter'), [
      '@system-service pkey_alloc pkey_free pkey_mprotect',
      '~@privileged @resources',
    ]);
    assert.equal(one(unit, 'MemoryDenyWriteExecute'), undefined);
    assert.match(unit, /^# MemoryDenyWriteExecute= is deliberately not set/m);
    assert.match(
      unit,
      /^#\s+systemctl daemon-reload && systemctl enable --now burrow-agent-dev1\.service$/m,
    );
  });
});

describe('systemd-analyze on the rendered unit', () => {
  const ANALYZE = '/usr/bin/systemd-analyze';
  const dir = mkdtempSync(join(tmpdir(), 'burrow-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A unit whose command really exists, written to the temp dir; returns its path. */
  function writeRealUnit(): string {
    const script = fileURLToPath(new URL('./main.js', import.meta.url));
    const key = join(dir, 'dev1_key');
    writeFileSync(key, 'not a real key\n', { mode: 0o600 });
    const unit = renderAgentUnit({
      name: 'dev1',
      command: [process.execPath, script, 'agent', '--identity', key, '--x', 'a "b" $c 5%d e\\f'],
      identityFile: key,
      writablePaths: [join(dir, 'known_hosts')],
    });
    const file = join(dir, unitFileName('dev1'));
    writeFileSync(file, unit);
    return file;
  }

  function analyze(args: string[]) {
    assert.ok(
      existsSync(ANALYZE),
      `${ANALYZE} is missing: install the Debian package "systemd" (apt-get install systemd)`,
    );
    const r = spawnSync(ANALYZE, args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.error, undefined, `cannot run ${ANALYZE}: ${r.error?.message}`);
    return r;
  }

  it('systemd-analyze verify accepts it', () => {
    const file = writeRealUnit();
    const r = analyze(['verify', file]);
    const aboutUnit = r.stderr.split('\n').filter((l) => l.includes('burrow-agent-dev1'));
    assert.deepEqual(aboutUnit, [], r.stderr);
    assert.equal(r.status, 0, r.stderr);
  });

  it('systemd-analyze security rates its exposure below 3.0', (t) => {
    const file = writeRealUnit();
    const r = analyze(['security', '--offline=yes', file]);
    const m = /Overall exposure level for burrow-agent-dev1\.service: (\d+(?:\.\d+)?)/.exec(
      r.stdout,
    );
    assert.ok(m, `no exposure level in:\n${r.stdout}\n${r.stderr}`);
    const level = Number(m[1]);
    t.diagnostic(`exposure level ${level}`);
    assert.ok(level < 3.0, `exposure ${level}:\n${r.stdout}`);
  });
});
