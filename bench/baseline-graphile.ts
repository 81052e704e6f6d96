import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Logger, makeWorkerUtils, run, type Runner, type Task } from 'graphile-worker';
import { sign, signingKey } from '../src/domain/signing.js';
import { serve } from './lib/ipc.js';
import { senderGot, userPayload } from './lib/load.js';

// The baseline Hookline's delivery rate is held against: graphile-worker, a
// general PostgreSQL job queue, doing Hookline's per-delivery work for each
// job: the envelope signed with Standard Webhooks v1, POSTed with one shared
// got instance configured as the sender's, one attempt row written. A process
// of its own, driven over IPC (bench/lib/procs.ts startBaseline); the bench
// times the drain at the receiver, as it does Hookline's. Started either with
// the library's defaults or tuned as graphile-worker's own perfTest runs it.

const { version } = createRequire(import.meta.url)('graphile-worker/package.json') as { version: string };

// graphile-worker logs every job at info; the Hookline server runs at warn.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker ${level}: ${message}`);
});

const { client } = senderGot();
let target: { databaseUrl: string; url: string; key: Buffer } | null = null;
let runner: Runner | null = null;

const ATTEMPTS_TABLE = `CREATE TABLE baseline_attempts (
  id bigserial PRIMARY KEY, job_id bigint, status int, duration_ms int, started_at timestamptz
)`;

// graphile-worker v0.17.3's perfTest/graphile.config.js: a local queue that
// fetches and locks 500 jobs at a time (a refetch after 10 ms when a fetch comes
// back short), and completions and failures written in batches rather than one
// statement per job. run() takes these only through a preset, not as options.
const PERF_TEST_SETTINGS = {
  localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
};

const deliver: Task = async (payload, helpers) => {
  const { url, key } = target!;
  const id = (payload as { id: string }).id;
  const body = JSON.stringify(payload);
  const startedAt = new Date();
  const timestamp = Math.floor(startedAt.getTime() / 1000);
  const t0 = performance.now();
  let status: number | null = null;
  try {
    const res = await client.post(url, {
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': `graphile-worker/${version}`,
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(key, id, timestamp, body),
      },
    });
    status = res.statusCode;
  } finally {
    // Failed or not, the attempt is recorded, as Hookline records it; a throw lets graphile-worker retry the job.
    await helpers.query(
      'INSERT INTO baseline_attempts (job_id, status, duration_ms, started_at) VALUES ($1, $2, $3, $4)',
      [helpers.job.id, status, Math.round(performance.now() - t0), startedAt],
    );
  }
};

serve(
  {
    prepare: async (o: { databaseUrl: string; jobs: number; url: string; secret: string }) => {
      // Derived once, as the sender caches derived keys.
      target = { databaseUrl: o.databaseUrl, url: o.url, key: signingKey(o.secret) };
      const utils = await makeWorkerUtils({ connectionString: o.databaseUrl, logger });
      try {
        await utils.migrate();
        await utils.withPgClient((c) => c.query(ATTEMPTS_TABLE));
        for (let i = 0; i < o.jobs; i += 1000) {
          await utils.addJobs(
            Array.from({ length: Math.min(1000, o.jobs - i) }, (_, j) => ({
              identifier: 'deliver',
              payload: {
                id: randomUUID(),
                type: 'user.created',
                timestamp: new Date().toISOString(),
                data: userPayload(`g${i + j}`),
              },
            })),
          );
        }
      } finally {
        await utils.release();
      }
    },
    start: async ({ concurrency, tuned }: { concurrency: number; tuned: boolean }) => {
      runner = await run({
        ...(tuned ? { preset: { worker: PERF_TEST_SETTINGS } } : {}),
        connectionString: target!.databaseUrl,
        concurrency,
        // graphile-worker's advice (concurrency + 2), capped: the PostgreSQL server is shared (max_connections 100).
        maxPoolSize: Math.min(concurrency + 2, 30),
        pollInterval: 100,
        noHandleSignals: true,
        logger,
        taskList: { deliver },
        parsedCronItems: [],
      });
      runner.promise.catch((e) => console.error(`graphile-worker runner failed: ${String(e)}`));
    },
    stop: async () => {
      await runner?.stop();
      runner = null;
    },
  },
  { version },
);
