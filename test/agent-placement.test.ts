/**
 * `burrow agent --coordinator`: agents ask the coordinator where to register. A real
 * redis-server, real `burrow relay` and `burrow coordinator` processes, real OpenSSH (the device's
 * sshd, the relay holding a name with `ssh -R`).
 *
 * The 60 agents of the spread test are 12 `burrow agent` processes and 48 agents run in this
 * process by the agent's own library (`startAgent` with `askPlacement`, the code the CLI runs):
 * 60 node processes would starve the other work of a 2-core machine.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Agent, hostKeyTrust, type PlacementAnswer } from '../src/agent/index.js';
import { type Cluster, type ClusterNode, FAST_CLUSTER, startCluster } from './helpers/cluster.js';
import { startCoordinatorCli } from './helpers/coordinator.js';
import { createSshClient, freePort, type Scope, waitFor, withScope } from './helpers/index.js';
import { startPlacedAgent } from './helpers/placed-agent.js';

/** One agent run by the library in this process, with every placement answer it got. */
interface LibAgent {
  readonly name: string;
  readonly agent: Agent;
  readonly answers: PlacementAnswer[];
  exit?: string;
}

function startLibAgent(s: Scope, c: Cluster, name: string, coordinator: string): LibAgent {
  const trust = hostKeyTrust({
    pinned: [],
    knownHostsFile: join(c.dir, 'known_hosts'),
    acceptNew: false,
  });
  const a: Partial<LibAgent> & { answers: PlacementAnswer[] } = { name, answers: [] };
  const agent = startPlacedAgent({
    name,
    privateKey: readFileSync(c.devKey.path, 'utf8'),
    targetPort: c.sshd.port,
    coordinator,
    trust,
    backoffCapMs: 5000,
    onAnswer: (answer) => a.answers.push(answer),
    onExit: (code, message) => {
      a.exit = `${code} ${message}`;
    },
  });
  s.defer(() => agent.close(), `agent ${name}`);
  return Object.assign(a, { agent }) as LibAgent;
}

/** Where every agent is registered now (relay address), or undefined for one that is not. */
function where(c: Cluster, procs: string[], libs: LibAgent[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const name of procs) {
    try {
      const st = JSON.parse(readFileSync(c.statusFile(name), 'utf8')) as {
        state: { phase: string; relay?: string };
      };
      out.set(name, st.state.phase === 'connected' ? st.state.relay : undefined);
    } catch {
      out.set(name, undefined);
    }
  }
  for (const l of libs) {
    const st = l.agent.status();
    out.set(l.name, st.phase === 'connected' ? st.relay : undefined);
  }
  return out;
}

function countBy(places: Map<string, string | undefined>, nodes: ClusterNode[]) {
  const counts: Record<string, number> = {};
  for (const n of nodes) counts[n.alias] = 0;
  for (const addr of places.values()) {
    const n = nodes.find((x) => x.addr === addr);
    if (n) counts[n.alias]! += 1;
  }
  return counts;
}

/** The relays' and the coordinator's `--registry-ttl` in the spread test. */
const PLACEMENT_TTL = '9s';
const PROC_AGENTS = 12;
const LIB_AGENTS = 48;

describe('burrow agent --coordinator', () => {
  it('spreads 60 agents evenly, never onto a draining relay, and moves those of a dead relay to live ones', async (t) =>
    withScope(t, async (s) => {
      const names = Array.from({ length: PROC_AGENTS + LIB_AGENTS }, (_, i) => `dev${i}`);
      const c = await startCluster(s, {
        relays: 4,
        names: ['hold', ...names],
        // A long drain grace keeps relay4 draining (and in the registry) for the whole test. All
        // 60 devices come from 127.0.0.1 at once: the per-source startup limits are raised, as
        // they would not apply to devices on 60 addresses. The relays' keepalive is the default
        // one: 48 agents share this busy test process, and a late keepalive answer is not a
        // dead device (kill -9 below is noticed by the reset, not by keepalives).
        relayFlags: [
          ...FAST_CLUSTER,
          ...['--keepalive-interval', '5s', '--keepalive-count', '3'],
          ...['--drain-grace', '120s', '--max-startups', '4096:30:4096'],
          ...['--max-startups-per-source', '100000'],
          // A relay counts as lost once its heartbeat is two thirds of the TTL old: FAST_CLUSTER's
          // 3 s would make a relay whose heartbeat a loaded machine delays by a second look lost,
          // and the burst would go to the others. Nothing here waits for a relay to be lost.
          ...['--registry-ttl', PLACEMENT_TTL],
        ],
      });
      const [r1, r2, r3, r4] = c.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode];

      // relay4 holds one name by plain OpenSSH (which ignores drain requests), then drains.
      const dev = await createSshClient(s, { identity: c.devKey });
      dev.addHost({
        alias: 'relay4',
        port: r4.port,
        user: 'burrow',
        hostKey: r4.hostKey.publicKey,
      });
      dev.spawn(['-N', '-o', 'ExitOnForwardFailure=yes', '-R', 'hold:22:127.0.0.1:9', 'relay4'], {
        name: 'hold on relay4',
      });
      await waitFor(() => c.record('hold').relayId === r4.id, {
        what: 'hold registered on relay4',
      });
      r4.proc?.signal('SIGTERM');
      await waitFor(() => r4.audit('relay.draining').length === 1, { what: 'relay4 draining' });

      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      let coord = (await startCoordinatorCli(s, c.redis, { port, ttl: PLACEMENT_TTL })).proc;
      await waitFor(
        async () => {
          const res = await fetch(`${url}/v1/relays`);
          const relays = ((await res.json()) as { relays: { address: string; state: string }[] })
            .relays;
          return relays.find((r) => r.address === r4.addr)?.state === 'draining';
        },
        { what: 'the coordinator to see relay4 draining' },
      );

      const procNames = names.slice(0, PROC_AGENTS);
      const procs = procNames.map((n) =>
        c.startAgent(n, [], ['--coordinator', url, '--log-format', 'json']),
      );
      const libs = names.slice(PROC_AGENTS).map((n) => startLibAgent(s, c, n, url));

      const settled = (live: ClusterNode[]) => (): Map<string, string | undefined> | undefined => {
        const places = where(c, procNames, libs);
        const all = [...places.values()];
        return all.every((a) => live.some((n) => n.addr === a)) ? places : undefined;
      };
      // What the coordinator said of relay1..3 while the agents arrived: a relay it took for lost
      // gets none of the burst, which explains an uneven spread.
      const unsteady = new Set<string>();
      let watching = true;
      const watch = (async () => {
        for (let i = 0; watching && i < 600; i++) {
          try {
            const res = await fetch(`${url}/v1/relays`);
            const { relays } = (await res.json()) as {
              relays: { address: string; state: string }[];
            };
            for (const n of [r1, r2, r3]) {
              const st = relays.find((r) => r.address === n.addr)?.state ?? 'absent';
              if (st !== 'up') unsteady.add(`${n.alias} ${st}`);
            }
          } catch {
            // A busy coordinator: the next round asks again.
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const before = await waitFor(settled([r1, r2, r3]), {
        what: '60 agents registered on relay1..3',
        timeoutMs: 60_000,
        intervalMs: 200,
      }).finally(() => {
        watching = false;
      });
      await watch;
      const counts = countBy(before, c.nodes);
      t.diagnostic(`spread: ${JSON.stringify(counts)}`);
      t.diagnostic(
        `placements per in-process agent: ${libs.map((l) => l.answers.length).join(',')}`,
      );
      t.diagnostic(
        `processes: ${JSON.stringify(countBy(new Map(procNames.map((n) => [n, before.get(n)])), c.nodes))}`,
      );
      for (const n of [r1, r2, r3]) {
        const share = counts[n.alias]!;
        assert.ok(
          share >= 16 && share <= 24,
          `${n.alias} holds ${share} of 60 (want 20 ± 20%); seen meanwhile: ${[...unsteady].join(', ') || 'all up'}`,
        );
      }
      assert.equal(counts.relay4, 0);
      // relay4 accepted no device after it began to drain: no agent even tried it.
      assert.equal(r4.audit('auth.accepted').length, 1, 'only the holder ever logged in');
      for (const l of libs) {
        // (An answer may be an error on a loaded machine: the 2 s bound; the agent asks again.)
        for (const a of l.answers) {
          if ('relays' in a) assert.ok(!a.relays.some((r) => r.id === r4.addr), 'named relay4');
        }
        assert.ok(
          l.answers.some((a) => 'relays' in a),
          `${l.name} got an answer`,
        );
      }
      // The registry agrees with the agents.
      for (const [name, addr] of before) {
        const node = c.nodes.find((n) => n.addr === addr);
        assert.equal(c.record(name).relayId, node?.id, `${name} in Redis`);
      }

      // The coordinator killed and restarted: no agent noticed, and it still knows every name.
      const reconnects = libs.map((l) => l.agent.status().reconnects);
      await coord.kill9();
      coord = (await startCoordinatorCli(s, c.redis, { port, ttl: PLACEMENT_TTL })).proc;
      for (const [name, addr] of before) {
        const res = await fetch(`${url}/v1/placement?name=${name}`);
        const body = (await res.json()) as { relays: { address: string }[] };
        assert.equal(body.relays[0]?.address, addr, `${name} placed where it is held`);
      }
      assert.deepEqual(where(c, procNames, libs), before, 'every agent still where it was');
      for (const [i, l] of libs.entries()) {
        const st = l.agent.status();
        assert.equal(st.reconnects, reconnects[i], `${l.name} reconnected: ${JSON.stringify(st)}`);
      }

      // kill -9 of relay1: its agents ask again and land on relay2 and relay3.
      await r1.kill9();
      const after = await waitFor(settled([r2, r3]), {
        what: 'the agents of relay1 registered on relay2 or relay3',
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      const counts2 = countBy(after, c.nodes);
      t.diagnostic(`after relay1 died: ${JSON.stringify(counts2)}`);
      for (const n of [r2, r3]) {
        const share = counts2[n.alias]!;
        assert.ok(share >= 24 && share <= 36, `${n.alias} holds ${share} of 60 (want 30 ± 20%)`);
      }
      assert.equal(r4.audit('auth.accepted').length, 1, 'still nobody on the draining relay');
      const moved = libs.filter((l) => l.agent.status().reconnects > 0);
      assert.ok(moved.length > 0, 'some in-process agents were on relay1');
      for (const p of procs) assert.equal(p.exit, undefined, `${p.name} is running`);
      for (const l of libs) assert.equal(l.exit, undefined, `${l.name} exited`);
    }));

  it('falls back to --relay when the coordinator cannot be reached, and needs one of the two', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 2 });
      const closed = await freePort();
      const agent = c.startAgent(
        'dev1',
        [c.nodes[1]!],
        ['--coordinator', `http://127.0.0.1:${closed}`, '--log-format', 'json'],
      );
      await waitFor(() => c.record('dev1').relayId === c.nodes[1]!.id, {
        what: 'dev1 registered on relay2 from --relay',
      });
      // Its log line may reach this process after the registration reached Redis.
      await waitFor(
        () =>
          /coordinator: cannot reach the coordinator: ECONNREFUSED; using --relay/.test(
            agent.output(),
          ),
        { what: "the agent's line saying it uses --relay" },
      );
      // The device is reachable through either relay.
      const r = await c.op.run(['-J', 'relay1', 'dev1', 'echo', 'placed']);
      assert.equal(r.stdout.trim(), 'placed', r.stderr);
      await agent.stop();

      const bad: [string[], RegExp][] = [
        [[], /--relay is required unless --coordinator is given/],
        [['--coordinator', 'ftp://x'], /--coordinator: expected an http:\/\/ or https:\/\/ URL/],
        [['--coordinator', 'http://u:p@127.0.0.1:1'], /put no credentials in the URL/],
        [['--coordinator', 'nonsense'], /--coordinator: expected a URL/],
        [['--coordinator-token-file', '/nonexistent'], /without --coordinator/],
        [
          ['--coordinator', 'http://127.0.0.1:1', '--coordinator-token-file', '/nonexistent'],
          /--coordinator-token-file: cannot read \/nonexistent: ENOENT/,
        ],
      ];
      for (const [extra, want] of bad) {
        const p = c.startAgent('dev2', [], extra);
        const exit = await p.stopped();
        assert.notEqual(exit.code, 0, extra.join(' '));
        const err = p.output('stderr').trim();
        assert.match(err, want);
        assert.equal(err.split('\n').length, 1, err);
      }
    }));

  it('sends the token, and trusts a relay it names only by known_hosts', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 1 });
      const tokenFile = join(c.dir, 'coordinator-token');
      writeFileSync(tokenFile, 'agent-token-5a1e\n', { mode: 0o600 });
      const { proc: coord, url } = await startCoordinatorCli(s, c.redis, {
        flags: ['--api-token-file', tokenFile],
      });

      // Wrong known_hosts: the coordinator names the relay, the agent refuses its key (exit 2).
      const empty = join(c.dir, 'empty_known_hosts');
      writeFileSync(empty, '');
      const untrusting = c.startAgent(
        'dev1',
        [],
        ['--coordinator', url, '--coordinator-token-file', tokenFile, '--known-hosts', empty],
      );
      const exit = await untrusting.stopped();
      assert.equal(exit.code, 2, untrusting.tail());
      assert.match(untrusting.output('stderr'), /host key/i);
      assert.deepEqual(c.record('dev1'), {});

      // --accept-new does not extend to a relay only the coordinator names: still refused, and
      // nothing is written to known_hosts.
      const firstUse = c.startAgent(
        'dev1',
        [],
        [
          ...['--coordinator', url, '--coordinator-token-file', tokenFile],
          ...['--known-hosts', empty, '--accept-new'],
        ],
      );
      const firstUseExit = await firstUse.stopped();
      assert.equal(firstUseExit.code, 2, firstUse.tail());
      assert.match(firstUse.output('stderr'), /--accept-new applies only to --relay entries/);
      assert.equal(readFileSync(empty, 'utf8'), '');
      assert.deepEqual(c.record('dev1'), {});

      // No token: refused by the coordinator, and with no --relay it keeps asking.
      const tokenless = c.startAgent('dev1', [], ['--coordinator', url, '--log-format', 'json']);
      await tokenless.waitForLine(/refused the token \(HTTP 401 UNAUTHORIZED\)/, {
        stream: 'stderr',
      });
      assert.equal(tokenless.exit, undefined);
      await tokenless.stop();

      // The token: registered where the coordinator said.
      const agent = c.startAgent(
        'dev1',
        [],
        ['--coordinator', url, '--coordinator-token-file', tokenFile],
      );
      await waitFor(() => c.record('dev1').relayId === c.nodes[0]!.id, {
        what: 'dev1 registered with the token',
      });
      assert.ok(!agent.output().includes('agent-token-5a1e'), 'the token is in no log line');
      assert.ok(!coord.output().includes('agent-token-5a1e'), 'the token is in no log line');
    }));
});
