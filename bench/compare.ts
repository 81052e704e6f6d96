import 'reflect-metadata';
import { hashToken, newApiToken } from '../src/domain/tokens.js';
import { freshDatabase } from '../test/kit/db.js';
import { spawnServer } from '../test/kit/server.js';
import { adminUrl, stopDatabase } from './lib/db.js';
import { GqlClient, PUBLISH, userPayload } from './lib/load.js';
import { startReceiver, type ReceiverProc } from './lib/procs.js';
import { buildRevision, type Build } from './lib/release.js';
import { summary, until } from './lib/stats.js';
import { startOtlpReceiver, type OtlpReceiver } from '../test/kit/otlp.js';

// `npm run bench:compare -- <git revision> [--rounds 3] [--events 5000] [--tracing]`:
// the delivery drain of this build against another revision's, rounds
// interleaved (base, this, base, this …), each on a fresh database that the
// build migrates itself, with a webhook that has a bearer token and an HMAC
// secret (the same work for both builds), so every per-delivery cost of a
// change shows. Prints medians with min and max, and the ratio; the publishes
// that fill the queue (32 at a time) are timed too. --tracing: this build's
// processes export their spans (OTLP/HTTP protobuf) to a receiver in this process.
// The other revision is built in a worktree of its own (bench/lib/release.ts), removed at the end.

const args = process.argv.slice(2);
const rev = args.find((a, i) => !a.startsWith('--') && !['--rounds', '--events'].includes(args[i - 1] ?? ''));
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = opt('rounds', 3);
const EVENTS = opt('events', 5000);
const TRACING = args.includes('--tracing');

async function drain(
  distRoot: string | undefined,
  receiver: ReceiverProc,
  label: string,
  otlp: OtlpReceiver | null,
): Promise<{ drain: number; publish: number }> {
  const db = await freshDatabase(`cmp_${label}`, { migrated: false, server: await adminUrl(), dropOnClose: true });
  const tracing: Record<string, string> = otlp ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint } : {};
  try {
    // The build migrates its own database; the key and the webhook go in through its API.
    // PROF=1: a CPU profile of each API server (the publishes), in /tmp/prof-<label>-api.
    const api = await spawnServer(db, {
      distRoot,
      nodeArgs: process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${label}-api`] : [],
      env: { HOOKLINE_WORKER: 'false', HOOKLINE_LOG_LEVEL: 'warn', ...tracing },
    });
    await api.ready(60_000);
    const token = newApiToken();
    await db.pool.query(`INSERT INTO api_keys (name, role, token_hash) VALUES ('compare', 'SUPPORT', $1)`, [
      hashToken(token),
    ]);
    const client = new GqlClient(api.url, token);
    const input = {
      name: 'compare',
      destinationUrl: `${receiver.url}/ok/cmp`,
      bearerToken: 'bearer-token',
      hmacSecret: `whsec_${Buffer.alloc(24, 3).toString('base64')}`,
      subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
    };
    await client.post('mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }', { i: input });
    let next = 0;
    const published = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < EVENTS) {
          const i = next++;
          await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`c${i}`) } });
        }
      }),
    );
    const publish = EVENTS / ((performance.now() - published) / 1000);
    await client.close();
    await api.stop();
    await receiver.reset();
    // PROF=1: a CPU profile of each drain, in /tmp/prof-<label>.
    const nodeArgs = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${label}`] : [];
    const worker = await spawnServer(db, {
      distRoot,
      nodeArgs,
      env: { HOOKLINE_LOG_LEVEL: 'warn', HOOKLINE_POLL_INTERVAL: '2s', HOOKLINE_DB_POOL_SIZE: '10', ...tracing },
    });
    await worker.ready(60_000);
    await until(async () => (await receiver.stats('/ok/cmp')).unique >= EVENTS, 300_000, `${label}: the drain`, 100);
    const s = await receiver.stats('/ok/cmp');
    await worker.stop();
    return { drain: (EVENTS - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9), publish };
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  if (!rev) throw new Error('usage: npm run bench:compare -- <git revision> [--rounds N] [--events N]');
  build = buildRevision(rev);
  const base = build.dist;
  const receiver = await startReceiver();
  const otlp = TRACING ? await startOtlpReceiver() : null;
  const runs: Record<'base' | 'head', { drain: number; publish: number }[]> = { base: [], head: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    runs.base.push(await drain(base, receiver, 'base', null));
    runs.head.push(await drain(undefined, receiver, 'head', otlp));
    process.stderr.write(
      `round ${round}: ${rev} ${runs.base.at(-1)!.drain.toFixed(0)}/s, this build ${runs.head.at(-1)!.drain.toFixed(0)}/s\n`,
    );
  }
  await receiver.stop();
  await otlp?.close();
  await stopDatabase();
  build.remove();
  const figures = (what: 'drain' | 'publish', title: string) => {
    const b = summary(runs.base.map((x) => x[what]));
    const h = summary(runs.head.map((x) => x[what]));
    const r = summary(runs.head.map((x, i) => x[what] / runs.base[i]![what]));
    return [
      `${title}, ${ROUNDS} interleaved rounds (median, min–max):`,
      `  ${rev}: ${b.median.toFixed(0)}/s (${b.min.toFixed(0)}–${b.max.toFixed(0)})`,
      `  this build${TRACING ? ', tracing on' : ''}: ${h.median.toFixed(0)}/s (${h.min.toFixed(0)}–${h.max.toFixed(0)})`,
      `  this build ÷ ${rev}, per round: ${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)})`,
    ];
  };
  process.stdout.write(
    [
      ...figures('drain', `delivery drain, ${EVENTS} signed events to one webhook`),
      ...figures('publish', `publishEvent, ${EVENTS} events 32 at a time, API-only server`),
      ...(otlp ? [`  spans exported: ${(otlp.bytes / 1e6).toFixed(1)} MB of OTLP protobuf`] : []),
      '',
    ].join('\n'),
  );
}

let build: Build | undefined;

main().then(
  () => process.exit(0),
  async (err) => {
    process.stderr.write(`compare failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopDatabase().catch(() => undefined);
    build?.remove();
    process.exit(1);
  },
);
