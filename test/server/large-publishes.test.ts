import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { CONTRACT_CODES } from '../../src/domain/errors.js';
import { bodyLimit } from '../../src/server/http.js';
import { MAX_BATCH_EVENTS } from '../../src/services/events.js';
import {
  freshDatabase,
  insertKeys,
  spawnServer,
  type Keys,
  type ServerProcess,
  type TestDatabase,
} from '../kit/index.js';

// The real program with npm start's Node flags (package.json config.nodeFlags)
// under the heaviest publishing burst its limits allow: 48 publishEvent calls
// with a payload of the maximum size, at once, with publishEvents batches of
// the largest body. Payloads are arrays of empty objects, the shape that costs
// the most heap per byte once parsed (~5 MB for 256 KiB): what the heap flag is
// sized for (README, "Development"). Every request is answered (a success or
// an error with a contract code), the process lives on, and every event
// acknowledged is stored.

const SINGLES = 48;
const BATCHES = 8;
const MAX_PAYLOAD = loadConfig({}).maxPayloadBytes;
const MAX_BODY = bodyLimit(MAX_PAYLOAD);
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }';
const PUBLISH_MANY = 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }';

/** A USERS payload of exactly `bytes` JSON bytes: an id and as many empty objects as fit. */
function densePayload(id: string, bytes: number): string {
  const empty = `{"id":"${id}","a":[]}`.length;
  const objects = Math.floor((bytes - empty + 1) / 3);
  const padded = id.padEnd(id.length + (bytes - empty + 1 - objects * 3), '-');
  const text = `{"id":"${padded}","a":[${'{},'.repeat(objects - 1)}{}]}`;
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

const input = (payload: string) => `{"resource":"USERS","action":"CREATE","payload":${payload}}`;
const body = (query: string, variables: string) => `{"query":${JSON.stringify(query)},"variables":${variables}}`;

describe('a burst of maximum-size publishes against npm start', () => {
  let db: TestDatabase;
  let keys: Keys;
  let p: ServerProcess;

  before(async () => {
    db = await freshDatabase('large_publishes');
    keys = await insertKeys(db);
    p = await spawnServer(db, { keys, env: { HOOKLINE_LOG_LEVEL: 'warn' } });
    await p.ready();
  });
  after(async () => {
    await p?.stop();
    await db?.close();
  });

  it(`${SINGLES} publishes of ${MAX_PAYLOAD} bytes and ${BATCHES} batches at once: all answered, alive, nothing acknowledged lost`, async () => {
    const bodies: string[] = [];
    for (let i = 0; i < SINGLES; i++)
      bodies.push(body(PUBLISH, `{"input":${input(densePayload(`single-${i}`, MAX_PAYLOAD))}}`));
    // Alternately the most events a batch may hold, sized to the body limit, and two payloads of the maximum size.
    const perEvent = Math.floor((MAX_BODY - 1024) / MAX_BATCH_EVENTS) - input('').length - 1;
    for (let b = 0; b < BATCHES; b++) {
      const inputs =
        b % 2 === 0
          ? Array.from({ length: MAX_BATCH_EVENTS }, (_, i) => input(densePayload(`batch-${b}-${i}`, perEvent)))
          : [0, 1].map((i) => input(densePayload(`batch-${b}-${i}`, MAX_PAYLOAD - 512)));
      bodies.push(body(PUBLISH_MANY, `{"inputs":[${inputs.join(',')}]}`));
    }
    for (const b of bodies) assert.ok(Buffer.byteLength(b) <= MAX_BODY, `a body of ${Buffer.byteLength(b)} bytes`);

    type Answer = {
      data?: { publishEvent?: { id: string }; publishEvents?: { id: string }[] } | null;
      errors?: { extensions?: { code?: string } }[];
    };
    const answers = await Promise.all(
      bodies.map((b) =>
        fetch(p.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.PUBLISHER}` },
          body: b,
        }).then(
          async (res) => (await res.json()) as Answer,
          (err: Error) => ({ unanswered: String(err.cause ?? err.message) }),
        ),
      ),
    );
    const unanswered = answers.filter((a) => 'unanswered' in a);
    assert.deepEqual(
      unanswered,
      [],
      `${unanswered.length} of ${answers.length} unanswered; the server's stderr ends: ${p.stderr.slice(-3).join(' | ') || '(nothing)'}`,
    );

    const acknowledged: string[] = [];
    for (const a of answers as Answer[]) {
      if (a.errors?.length) {
        for (const e of a.errors) assert.ok(CONTRACT_CODES.includes(e.extensions?.code as never), JSON.stringify(e));
        continue;
      }
      if (a.data?.publishEvent) acknowledged.push(a.data.publishEvent.id);
      else acknowledged.push(...a.data!.publishEvents!.map((e) => e.id));
    }
    assert.equal(p.child.exitCode, null, 'the process is alive');
    assert.equal((await fetch(`http://127.0.0.1:${p.port}/healthz`)).status, 200);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])',
      [acknowledged],
    );
    assert.equal(rows[0]!.n, acknowledged.length, 'every acknowledged event is stored');
    assert.ok(acknowledged.length > 0, 'something was acknowledged');
  });
});
