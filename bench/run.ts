import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  environment,
  gateFailures,
  mergeNotes,
  quick,
  RUNS,
  table,
  teardown,
  type Bench,
  type Round,
} from './lib/harness.js';
import { startGenerator, startReceiver, startTrivialServer } from './lib/procs.js';
import {
  clientLimits,
  consecutiveDrains,
  graphileBaseline,
  historyCost,
  historyDatabase,
  metricsCost,
  oneWebhookDrain,
  orderedDrains,
  tenWebhookDrain,
} from './scenarios/delivery.js';
import { accountsScale, scaleDatabases } from './scenarios/account-scale.js';
import { endToEnd, sustainedLoad } from './scenarios/end-to-end.js';
import { accountsFairness } from './scenarios/fairness.js';
import { limitsCost, rateLimitAccuracy } from './scenarios/protection.js';
import { fanOut, filteredFanOut } from './scenarios/fan-out.js';
import { headersCost } from './scenarios/headers.js';
import { liveFeed, liveFeedUnderLoad, stalledSubscriber } from './scenarios/live-feed.js';
import { publishBatches, publishOpenLoop, publishRate, publishRateApiOnly } from './scenarios/publishing.js';
import { releaseBuild, releaseRows } from './scenarios/release.js';

// `npm run bench [-- --quick] [-- --only publish,drain]`: every scenario
// against the real server process (the `npm start` build), with a receiver, a
// load generator, a feed-subscriber process and a trivial HTTP server of their
// own on 127.0.0.1. This process only seeds databases, starts and stops
// processes and collects results, so it never competes with what it times.
// RUNS rounds, each running every scenario once in the order below (client
// limits, baseline, Hookline…, then again), so a slow minute of the shared
// machine lands in one round of each figure, not in all rounds of one; each
// figure is the median of its rounds. The scenarios themselves are in
// bench/scenarios/, what they share in bench/lib/harness.ts.
//
// `--only <name>[,<name>…]` (repeatable, combinable with --quick) runs only
// the named scenarios, still in this order and in RUNS rounds; an unknown name
// fails before anything starts, listing the known ones. A ratio against
// another scenario's figure of the same round is recorded only when that
// scenario ran in the round: `drain` ÷ got's client limit (`limits`) and ÷ the
// graphile-worker peer tuned as its perfTest (`baseline`, which also runs
// it with the library defaults, listed beside it); `metrics` on ÷ off, `ordering`
// PER_OBJECT ÷ NONE and `history` drain ÷ empty tables against `drain`;
// `history` publish ÷ empty tables against `publish`. A selection writes
// BENCHMARKS.only.md (not in git), never BENCHMARKS.md or BENCHMARKS.quick.md.
//
// `--rounds N` replaces RUNS (3, or 1 with --quick). `release` divides drain,
// publish, publishEvents and end-to-end latency by the previous release's,
// built from git in this run (`--against REF`, else the last tag, else
// bench/lib/release.ts DEFAULT_RELEASE); when one of those ratios drops more
// than 3 % the run still writes its table, then exits 1 naming the figures.

interface Scenario {
  name: string;
  /** Made once per run, before the first round. */
  prepare?: (bench: Bench) => Promise<void>;
  run: (bench: Bench, round: Round) => Promise<void>;
}

const SCENARIOS: Scenario[] = [
  { name: 'limits', run: clientLimits },
  { name: 'baseline', run: graphileBaseline },
  { name: 'drain', run: oneWebhookDrain },
  { name: 'metrics', run: metricsCost },
  { name: 'ordering', run: orderedDrains },
  { name: 'drain-10', run: tenWebhookDrain },
  { name: 'publish', run: publishRate },
  { name: 'publish-api-only', run: publishRateApiOnly },
  { name: 'history', prepare: historyDatabase, run: historyCost },
  { name: 'consecutive', run: consecutiveDrains },
  { name: 'publish-open-loop', run: publishOpenLoop },
  { name: 'publish-batches', run: publishBatches },
  { name: 'end-to-end', run: endToEnd },
  { name: 'sustained', run: sustainedLoad },
  { name: 'fan-out', run: fanOut },
  { name: 'fan-out-filtered', run: filteredFanOut },
  { name: 'feed', run: liveFeed },
  { name: 'feed-load', run: liveFeedUnderLoad },
  { name: 'feed-stalled', run: stalledSubscriber },
  { name: 'accounts-fairness', run: accountsFairness },
  { name: 'accounts-scale', prepare: scaleDatabases, run: accountsScale },
  { name: 'headers', run: headersCost },
  { name: 'rate-limit', run: rateLimitAccuracy },
  { name: 'limits-cost', run: limitsCost },
  { name: 'release', prepare: releaseBuild, run: releaseRows },
];

/** The --only names, or undefined for every scenario; a bad argument ends the run before anything starts. */
function only(): string[] | undefined {
  const refuse = (why: string): never => {
    process.stderr.write(`bench: ${why}\nknown scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
    process.exit(2);
  };
  let values: { only?: string[] } = {};
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string', multiple: true },
        rounds: { type: 'string' },
        against: { type: 'string' },
      },
    }));
  } catch (e) {
    refuse(e instanceof Error ? e.message : String(e));
  }
  if (!Number.isInteger(RUNS) || RUNS < 1) refuse(`--rounds: a whole number of rounds ≥ 1 was expected`);
  if (!values.only) return undefined;
  const names = values.only.flatMap((v) => v.split(',')).map((n) => n.trim());
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) refuse(`unknown scenario ${unknown.map((n) => `'${n}'`).join(', ')}`);
  return names;
}

const selection = only();
const scenarios = selection ? SCENARIOS.filter((s) => selection.includes(s.name)) : SCENARIOS;
const chosen = selection && scenarios.map((s) => s.name);

async function main(): Promise<number> {
  const started = Date.now();
  const env = await environment(chosen);
  const bench: Bench = {
    receiver: await startReceiver(),
    gen: await startGenerator('generator'),
    feed: await startGenerator('feed-clients'),
    trivial: await startTrivialServer(),
  };
  for (const s of scenarios) await s.prepare?.(bench);
  for (let round = 0; round < RUNS; round++) {
    process.stderr.write(`round ${round + 1}/${RUNS}\n`);
    const figures: Round = {};
    for (const s of scenarios) await s.run(bench, figures);
  }
  await teardown();

  const command = chosen ? `npm run bench -- --only ${chosen.join(',')}` : 'npm run bench';
  const md = [
    '# Benchmarks',
    '',
    'Written by `' + command + '`' + (quick ? ' (--quick: one short run each; not the reference figures)' : '') + '.',
    '',
    ...env,
    `- wall time: ${((Date.now() - started) / 1000).toFixed(0)} s`,
    '',
    ...table(),
    '',
  ];
  const file = chosen ? 'BENCHMARKS.only.md' : quick ? 'BENCHMARKS.quick.md' : 'BENCHMARKS.md';
  writeFileSync(file, mergeNotes(file, md.join('\n')));
  process.stdout.write(md.join('\n') + '\n');
  const failed = gateFailures();
  if (failed.length === 0) return 0;
  process.stderr.write(
    `bench: this build dropped more than 3 % against the previous release:\n  ${failed.join('\n  ')}\n`,
  );
  return 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench interrupted (${signal}): stopping its processes\n`);
    void teardown().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await teardown();
    process.exit(1);
  },
);
