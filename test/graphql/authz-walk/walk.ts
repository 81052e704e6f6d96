import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GraphQLSchema } from 'graphql';
import type { ApiKeyRole } from '../../../src/domain/roles.js';
import { DEFAULT_ACCOUNT_ID } from '../../../src/domain/accounts.js';
import { createSchema } from '../../../src/graphql/schema.js';
import {
  armed,
  codes,
  collect,
  createWebhook,
  deliveryFor,
  eventually,
  feedClient,
  must,
  pathQuery,
  publish,
  reachablePaths,
  reachedSteps,
  setPaused,
  showPath,
  startReceiver,
  startServer,
  waitForAttempts,
  type Collected,
  type FeedClient,
  type FieldPath,
  type GqlResult,
  type Receiver,
  type TestServer,
} from '../../kit/index.js';

// Authorization in every room: generated from the emitted schema, one query
// per field reachable from each root field (Query, Mutation, and Subscription
// over graphql-ws), run with a role's key against a seeded world (one test
// file per role, so that the three walks run in parallel); what
// each role may see is written out below, independently of the table in
// src/graphql/authorization.ts. A field added to the schema is walked
// automatically, and fails here until the table (and, if a PUBLISHER is to
// see it, the list below) has a rule for it.

export const ROLES: readonly ApiKeyRole[] = ['SUPPORT', 'VIEWER', 'PUBLISHER'];

// What the roles may see, as the issue states it. SUPPORT: everything.
// VIEWER: everything but secrets, and nothing of configuration (mutations, API keys, the audit log).
const SECRETS = new Set(['Webhook.generatedHmacSecret', 'RotatedWebhookSecret.secret', 'CreatedApiKey.token']);
const CONFIGURATION_READS = new Set(['Query.apiKeys', 'Query.auditLog']);
// PUBLISHER: its own key, the catalog, and of the event it published: the
// event, its deliveries' ids and status, the ids of the webhooks they go to.
const PUBLISHER_SEES = new Set([
  'Query.viewer',
  'Query.resources',
  'Mutation.publishEvent',
  'Mutation.publishEvents',
  ...['id', 'name', 'role', 'createdAt', 'revokedAt', 'expiresAt', 'lastUsedAt'].map((f) => `ApiKey.${f}`),
  ...['type', 'name', 'actions', 'eventTypes', 'payloadFormat', 'payloadSchema'].map((f) => `Resource.${f}`),
  ...[
    'id',
    'type',
    'resource',
    'action',
    'payload',
    'objectId',
    'occurredAt',
    'createdAt',
    'idempotencyKey',
    'isTest',
    'deliveries',
    'erasedAt',
    'traceId',
  ].map((f) => `Event.${f}`),
  ...['id', 'status', 'createdAt', 'event', 'webhook'].map((f) => `Delivery.${f}`),
  'Webhook.id',
  'ApiKey.account',
  'Event.account',
  ...['id', 'key', 'name', 'createdAt', 'updatedAt'].map((f) => `Account.${f}`),
]);

/** The first step of the path the role may not read; undefined when it may read the whole path. */
function firstForbidden(role: ApiKeyRole, steps: readonly string[]): string | undefined {
  switch (role) {
    case 'SUPPORT':
      return undefined;
    case 'VIEWER':
      return steps.find(
        (s, i) => (i === 0 && (s.startsWith('Mutation.') || CONFIGURATION_READS.has(s))) || SECRETS.has(s),
      );
    case 'PUBLISHER':
      return steps.find((s) => !PUBLISHER_SEES.has(s));
  }
}

const ISSUE_QUERY = `mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "u2"}}) { deliveries { webhook { name destinationUrl subscriptions { filter } deliveries(first: 5) { edges { node { event { payload } attempts { responseBody } } } } } } } }`;

const show = (r: unknown) => JSON.stringify(r);
const rootKey = (p: FieldPath) => p.steps[0]!.split('.')[1]!;

// Every type is reachable from every root through Account.webhooks (a webhook's
// account, its webhooks, theirs...): walked below it only from the roots that
// are about accounts, the webhook's fields are walked from every other root
// directly. Measured: 812 of the 2,529 paths, and the SUPPORT walk over the
// runner's 120 s per file on this machine.
const ACCOUNT_ROOTS = new Set(['Query.accounts', 'Query.account', 'Mutation.createAccount', 'Mutation.updateAccount']);
const walked = (p: FieldPath) => {
  const i = p.steps.indexOf('Account.webhooks');
  return i < 0 || i === p.steps.length - 1 || ACCOUNT_ROOTS.has(p.steps[0]!);
};

/** Which root type a file walks: the SUPPORT walk of everything at once takes longer than a test file may. */
export type WalkPart = 'query' | 'mutation' | 'subscription';

// Root fields that only a key without an account may use (graphql/authorization.ts).
const UNSCOPED_ONLY = new Set(['Mutation.createAccount', 'Mutation.updateAccount', 'Mutation.deleteAccount']);

/**
 * The walk of one role over one root type: every path, judged by what the
 * role may see. `scoped`: with a key of the role scoped to account A, while
 * every id in the arguments is of another account (the seeded world, in the
 * default account): nothing of that world may come back, ever, on any path.
 */
export function walkAs(
  role: ApiKeyRole,
  parts: readonly WalkPart[],
  scoped = false,
  shard: { index: number; of: number } = { index: 0, of: 1 },
): void {
  describe(`authorization walk: ${role}${scoped ? ' scoped to an account' : ''}, ${parts.join(', ')}${shard.of > 1 ? ` (${shard.index + 1} of ${shard.of})` : ''}`, () => {
    let schema: GraphQLSchema;
    let paths: FieldPath[];

    before(async () => {
      schema = await createSchema();
      const roots = [...new Set(reachablePaths(schema).map((p) => p.steps[0]!))];
      paths = reachablePaths(schema)
        .filter(walked)
        .filter((p) => roots.indexOf(p.steps[0]!) % shard.of === shard.index);
    });

    describe('over HTTP and graphql-ws, against a seeded world', () => {
      let s: TestServer;
      let r: Receiver;
      const world = { w: '', t: '', parked: '', event: '', delivery: '' };
      let n = 0;
      const seen = new Set<string>();
      // T's subscription matches only the seed event: the walk's own publishes go to W alone.
      const T_SUBSCRIPTIONS = '[{resource: USERS, action: CREATE, filter: {uid: "walk-seed"}}]';
      const setT = async (subscriptions: string) =>
        must(
          await s.gql(
            `mutation { setWebhookSubscriptions(webhookId: "${world.t}", subscriptions: ${subscriptions}) { id } }`,
          ),
          'setWebhookSubscriptions',
        );
      const since = () => new Date(Date.now() - 3_600_000).toISOString();

      /** Each field's arguments: valid values for the seeded world; a mutation's may first prepare what it acts on. */
      const ARGS: Record<string, () => string | Promise<string>> = {
        'Query.webhooks': () => 'first: 2',
        'Query.webhook': () => `id: "${world.w}"`,
        'Query.events': () => 'first: 2',
        'Query.event': () => `id: "${world.event}"`,
        'Query.deliveries': () => `first: 2, webhookId: "${world.w}"`,
        'Query.delivery': () => `id: "${world.delivery}"`,
        'Query.auditLog': () => 'first: 2',
        'Webhook.deliveries': () => 'first: 2',
        'Webhook.stats': () => 'hours: 24',
        'Mutation.createWebhook': () =>
          `input: {name: "walk made ${++n}", destinationUrl: "${r.url}/made", generateHmacSecret: true, subscriptions: [{resource: PROGRAMS, action: DELETE}]}`,
        'Mutation.updateWebhook': () => `id: "${world.t}", input: {name: "walk T"}`,
        'Mutation.deleteWebhook': async () =>
          `id: "${(await createWebhook(s, { url: `${r.url}/doomed`, name: 'walk doomed' })).id}"`,
        'Mutation.pauseWebhook': () => `id: "${world.t}"`,
        'Mutation.resumeWebhook': () => `id: "${world.t}"`,
        'Mutation.addWebhookSubscriptions': async () => {
          await setT(T_SUBSCRIPTIONS);
          return `webhookId: "${world.t}", subscriptions: [{resource: COURSES, action: UPDATE}]`;
        },
        'Mutation.removeWebhookSubscriptions': async () => {
          await setT(T_SUBSCRIPTIONS.replace(']', ', {resource: COURSES, action: UPDATE}]'));
          return `webhookId: "${world.t}", subscriptions: [{resource: COURSES, action: UPDATE}]`;
        },
        'Mutation.setWebhookSubscriptions': () => `webhookId: "${world.t}", subscriptions: ${T_SUBSCRIPTIONS}`,
        'Mutation.rotateWebhookSecret': () => `webhookId: "${world.t}", overlapSeconds: 60`,
        'Mutation.redeliver': () => `deliveryId: "${world.parked}"`,
        'Mutation.sendTestEvent': () => `webhookId: "${world.t}"`,
        'Mutation.retryFailedDeliveries': () => `webhookId: "${world.t}", since: "${since()}"`,
        'Mutation.replayDeliveries': () => `webhookId: "${world.t}", since: "${since()}", dryRun: true`,
        'Mutation.createApiKey': () => `name: "walk key ${++n}", role: VIEWER`,
        'Mutation.revokeApiKey': async () => {
          const k = must(
            await s.gql(`mutation { createApiKey(name: "walk victim ${++n}", role: VIEWER) { apiKey { id } } }`),
          );
          return `id: "${k.createApiKey.apiKey.id}"`;
        },
        'Mutation.publishEvent': () => `input: {resource: USERS, action: CREATE, payload: {id: "walk-${++n}"}}`,
        'Mutation.publishEvents': () => `inputs: [{resource: USERS, action: CREATE, payload: {id: "walk-${++n}"}}]`,
        'Query.accounts': () => 'first: 2',
        'Query.account': () => 'key: "default"',
        'Account.webhooks': () => 'first: 2',
        'Mutation.createAccount': () => `input: {key: "walk-made-${++n}", name: "walk made"}`,
        'Mutation.updateAccount': async () => `id: "${await walkAccount()}", input: {name: "walk renamed ${++n}"}`,
        'Mutation.deleteAccount': async () => {
          const key = `walk-doomed-${++n}`;
          const made = must(await s.gql(`mutation { createAccount(input: {key: "${key}", name: "doomed"}) { id } }`));
          return `id: "${made.createAccount.id}", confirmKey: "${key}"`;
        },
        // Of the seed's object in the default account: a dry run (the walk's world stays whole); scoped to A, NOT_FOUND.
        'Mutation.eraseObject': () =>
          `resource: USERS, objectId: "walk-seed", accountId: "${DEFAULT_ACCOUNT_ID}", dryRun: true`,
        'Subscription.deliveryAttempts': () => `webhookId: "${world.w}"`,
        'Subscription.webhookStatusChanged': () => `webhookId: "${world.t}"`,
      };

      let walkAccountId = '';
      const walkAccount = async () => {
        if (!walkAccountId) {
          walkAccountId = must(await s.gql('mutation { createAccount(input: {key: "walk", name: "walk"}) { id } }'))
            .createAccount.id;
          // With a webhook, so that what its webhooks answer is walked too.
          must(
            await s.gql(
              `mutation { createWebhook(input: {name: "walk account hook", destinationUrl: "${r.url}/acct", accountId: "${walkAccountId}"}) { id } }`,
            ),
          );
        }
        return walkAccountId;
      };

      /** The path's operation, its root's arguments computed (and prepared) now. */
      const queryFor = async (p: FieldPath) => {
        const rootArgs = ARGS[p.steps[0]!] ? await ARGS[p.steps[0]!]!() : undefined;
        return pathQuery(schema, p, (step) =>
          step === p.steps[0] ? rootArgs : (ARGS[step]?.() as string | undefined),
        );
      };

      /** An allowed path answers data and no error; a forbidden one FORBIDDEN, naming the field and role, and no data. */
      const judge = (p: FieldPath, query: string, res: GqlResult) => {
        const denied = firstForbidden(role, p.steps);
        const what = `${role}${scoped ? ' (scoped)' : ''} ${showPath(p)}: ${query} → ${show(res)}`;
        if (scoped && denied === undefined) return judgeScoped(p, res, what);
        if (denied === undefined) {
          assert.equal(res.errors, undefined, what);
          const reached = reachedSteps(res.data, p);
          assert.ok(reached.length > 0, what);
          for (const step of reached) seen.add(step);
        } else {
          assert.deepEqual(codes(res), ['FORBIDDEN'], what);
          assert.ok(res.data == null || res.data[rootKey(p)] == null, what);
          const message = res.errors![0]!.message;
          assert.ok(message.includes(`the ${role} role may not`) && message.includes(denied), what);
        }
      };

      /**
       * Scoped to A, asked about B: the answer holds nothing of B (data is checked
       * for every id and name of the seeded world); refusals are NOT_FOUND, or
       * FORBIDDEN for what only an unscoped key may do; nothing fails.
       */
      const judgeScoped = (p: FieldPath, res: GqlResult, what: string) => {
        const data = JSON.stringify(res.data ?? null);
        for (const marker of markers()) assert.ok(!data.includes(marker), `${marker} of another account in ${what}`);
        const got = codes(res);
        if (UNSCOPED_ONLY.has(p.steps[0]!)) assert.deepEqual(got, ['FORBIDDEN'], what);
        else
          assert.ok(
            got.every((c) => c === 'NOT_FOUND'),
            what,
          );
        if (got.length === 0) for (const step of reachedSteps(res.data, p)) seen.add(step);
      };
      /** Everything of the seeded world (the other account) that an answer could carry. */
      const markers = () => [
        world.w,
        world.t,
        world.parked,
        world.event,
        world.delivery,
        DEFAULT_ACCOUNT_ID,
        'walk W',
        'walk T',
        'walk P',
        'walk-seed',
        'walk receipt',
        'walk-header-value',
      ];
      let token: string = role;

      before(async () => {
        s = await startServer(
          `authz_walk_${role.toLowerCase()}${scoped ? '_scoped' : ''}_${parts.join('_')}_${shard.index}`,
        );
        r = await startReceiver();
        r.on('/w', () => ({ status: 200, body: 'walk receipt' }));
        world.w = (
          await createWebhook(s, {
            name: 'walk W',
            url: `${r.url}/w`,
            subs: [['USERS', 'CREATE']],
            bearerToken: 'walk-bearer-token',
            generateHmacSecret: true,
          })
        ).id;
        world.t = (
          await createWebhook(s, {
            name: 'walk T',
            url: `${r.url}/t`,
            subs: [['USERS', 'CREATE', { uid: 'walk-seed' }]],
          })
        ).id;
        // Custom headers, one secret, on W and on T (which most mutations answer with): WebhookHeader's fields
        // have webhooks to be read from.
        for (const id of [world.w, world.t]) {
          must(
            await s.gql(
              `mutation($id: ID!) { updateWebhook(id: $id, input: {headers: [{name: "X-Walk", value: "walk-header-value"},
                 {name: "X-Walk-Key", value: "walk-secret-header", secret: true}]}) { id } }`,
              { id },
            ),
          );
        }
        // Redelivered over and over by the walk: parked (its webhook paused), so that no attempt races the requeue.
        const p = (
          await createWebhook(s, {
            name: 'walk P',
            url: `${r.url}/p`,
            subs: [['USERS', 'CREATE', { uid: 'walk-seed' }]],
          })
        ).id;
        const seed = await publish(s, 'USERS', 'CREATE', { id: 'walk-seed', uid: 'walk-seed' });
        world.event = seed.id;
        world.delivery = deliveryFor(seed, world.w);
        world.parked = deliveryFor(seed, p);
        for (const d of [world.delivery, deliveryFor(seed, world.t), world.parked]) await waitForAttempts(s, d, 1);
        await setPaused(s, p, true);
        if (scoped) {
          // Account A, with a webhook and an event of its own: lists answer with A's rows, never the world's.
          const a = must(await s.gql('mutation { createAccount(input: {key: "walk-a", name: "walk A"}) { id } }'));
          const accountId = a.createAccount.id as string;
          must(
            await s.gql(
              `mutation { createWebhook(input: {name: "walk A hook", destinationUrl: "${r.url}/a", accountId: "${accountId}", subscriptions: [{resource: USERS, action: CREATE}]}) { id } }`,
            ),
          );
          must(
            await s.gql(
              'mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "a-1"}, account: "walk-a"}) { id } }',
            ),
          );
          const k = must(
            await s.gql(
              `mutation { createApiKey(name: "walk scoped", role: ${role}, accountId: "${accountId}") { token } }`,
            ),
          );
          token = k.createApiKey.token as string;
        }
      });
      after(async () => {
        await s.stop();
        await r.close();
      });

      if (role === 'PUBLISHER' && parts.includes('mutation') && !scoped)
        it('the issue: a PUBLISHER publishing reads no webhook, no other event, no response body', async () => {
          const events = async () =>
            (await s.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number;
          const before = await events();
          const denied = await s.gql(ISSUE_QUERY, {}, 'PUBLISHER');
          assert.deepEqual(codes(denied), ['FORBIDDEN'], show(denied));
          assert.equal(denied.data, null, show(denied));
          assert.match(denied.errors![0]!.message, /the PUBLISHER role may not read Webhook\.name/);
          assert.equal(await events(), before, 'a refused publish stores nothing');
          // The same through fragments, aliases and an inline fragment.
          for (const query of [
            `mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "u2"}}) { ...E } }
         fragment E on Event { deliveries { webhook { ...W } } } fragment W on Webhook { id url: destinationUrl }`,
            `mutation { p: publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "u2"}}) { d: deliveries { ... on Delivery { attempts { responseBody } } } } }`,
          ]) {
            const r2 = await s.gql(query, {}, 'PUBLISHER');
            assert.deepEqual(codes(r2), ['FORBIDDEN'], show(r2));
            assert.equal(r2.data, null, show(r2));
          }
          assert.equal(await events(), before);
          assert.deepEqual(codes(await s.gql('{ webhooks { totalCount } }', {}, 'PUBLISHER')), ['FORBIDDEN']);

          // What a PUBLISHER does see of its event.
          const mine = must(
            await s.gql(
              'mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "u2"}}) { id payload deliveries { id status webhook { id } } } }',
              {},
              'PUBLISHER',
            ),
          );
          assert.deepEqual(mine.publishEvent.payload, { id: 'u2' });
          assert.deepEqual(
            mine.publishEvent.deliveries.map((d: { webhook: { id: string } }) => d.webhook.id),
            [world.w],
          );
          // And SUPPORT sees it all.
          const all = must(await s.gql(ISSUE_QUERY, {}, 'SUPPORT'));
          const hooks = all.publishEvent.deliveries.map((d: { webhook: { name: string } }) => d.webhook.name);
          assert.deepEqual(hooks, ['walk W']);
        });

      for (const part of parts.filter((x) => x !== 'subscription'))
        it(`every path from ${part === 'query' ? 'Query' : 'Mutation'}`, async () => {
          const mine = paths.filter((x) => x.operation === part);
          // Queries change nothing: eight at a time. Mutations one by one, each after its preparation.
          const width = part === 'query' ? 8 : 1;
          for (let i = 0; i < mine.length; i += width) {
            await Promise.all(
              mine.slice(i, i + width).map(async (p) => {
                const query = await queryFor(p);
                judge(p, query, await s.gql(query, {}, token));
              }),
            );
          }
        });

      if (parts.includes('subscription'))
        it('every path from Subscription, over graphql-ws', async () => {
          const subscriptionPaths = paths.filter((x) => x.operation === 'subscription');
          const clients: FeedClient[] = [];
          const running: { p: FieldPath; query: string; c: Collected<unknown> }[] = [];
          try {
            for (const p of subscriptionPaths) {
              // Well under HOOKLINE_WS_OPERATIONS_PER_CONNECTION (50) on each connection.
              if (running.length % 40 === 0) clients.push(feedClient(s.url, scoped ? token : s.keys[role]));
              const query = await queryFor(p);
              running.push({ p, query, c: collect(clients.at(-1)!, query, {}, rootKey(p)) });
            }
            const refused = running.filter((x) => firstForbidden(role, x.p.steps) !== undefined);
            const allowed = running.filter((x) => firstForbidden(role, x.p.steps) === undefined);
            await eventually(
              () => refused.every((x) => x.c.completed || x.c.errors.length > 0),
              10_000,
              `${role}'s ${refused.length} refusals`,
            );
            let paused = false;
            let i = 0;
            const activity = async () => {
              paused = !paused;
              must(await s.gql(`mutation { ${paused ? 'pause' : 'resume'}Webhook(id: "${world.t}") { id } }`));
              await publish(s, 'USERS', 'CREATE', { id: `walk-feed-${role}-${++i}` });
            };
            if (scoped) {
              // The other account's attempts and status changes happen; none of them may reach A's key.
              for (let k = 0; k < 4; k++) await activity();
              await waitForAttempts(
                s,
                deliveryFor(await publish(s, 'USERS', 'CREATE', { id: 'walk-last' }), world.w),
                1,
              );
              await new Promise((done) => setTimeout(done, 500));
              for (const x of allowed) assert.deepEqual(x.c.items, [], `${showPath(x.p)} got another account's notice`);
            } else {
              await armed(`${role}'s ${allowed.length} subscriptions`, activity, () =>
                allowed.every((x) => x.c.items.length > 0 || x.c.resultErrors.length > 0),
              );
            }
            if (paused) must(await s.gql(`mutation { resumeWebhook(id: "${world.t}") { id } }`));
            for (const { p, query, c } of running) {
              // A refusal arrives as a result with errors (or an error message); nothing is sent after it.
              const errors = c.resultErrors.length ? c.resultErrors : ((c.errors[0] as unknown[] | undefined) ?? []);
              const result = c.items.length
                ? { data: { [rootKey(p)]: c.items[0] }, ...(errors.length ? { errors } : {}) }
                : { data: null, errors };
              judge(p, query, result as GqlResult);
            }
          } finally {
            for (const c of clients) await c.dispose();
          }
        });

      if (!scoped)
        it('every field the role may read was answered at least once (the walk was not vacuous)', () => {
          const expected = new Set(
            paths
              .filter((p) => parts.includes(p.operation) && firstForbidden(role, p.steps) === undefined)
              // An unscoped key has no account: what lies below ApiKey.account the scoped walk reaches.
              .filter((p) => !p.steps.slice(0, -1).includes('ApiKey.account'))
              // A new account has no webhooks yet: below createAccount's webhooks there is nothing to answer.
              .filter(
                (p) => !(p.steps[0] === 'Mutation.createAccount' && p.steps.slice(0, -1).includes('Account.webhooks')),
              )
              .flatMap((p) => p.steps),
          );
          assert.deepEqual(
            [...expected].filter((step) => !seen.has(step)),
            [],
          );
        });
    });
  });
}
