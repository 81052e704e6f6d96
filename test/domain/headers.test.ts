import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HooklineError } from '../../src/domain/errors.js';
import { MAX_HEADERS_BYTES, reservedHeader, validHeaders, type HeaderSpec } from '../../src/domain/headers.js';
import {
  attemptTimings,
  DROPPED_HEADERS_KEY,
  MAX_RESPONSE_HEADERS_BYTES,
  recordedResponseHeaders,
  remoteAddress,
} from '../../src/domain/forensics.js';

// Pure: the custom headers' rules against hostile input, and what an attempt records of its response.

const SECRET = 'sk_live_do-not-echo-me';

/** validHeaders throws BAD_USER_INPUT naming `field`, matching `because`, never quoting the secret. */
function refused(headers: HeaderSpec[], field: string, because: RegExp, stored?: Set<string>): void {
  assert.throws(
    () => validHeaders('input.headers', headers, stored),
    (e: unknown) => {
      assert.ok(e instanceof HooklineError, String(e));
      assert.equal(e.code, 'BAD_USER_INPUT');
      assert.equal(e.field, field);
      assert.match(e.message, because);
      assert.ok(!e.message.includes(SECRET), `the message quotes the value: ${e.message}`);
      return true;
    },
  );
}

const h = (name: string, value = 'v', secret?: boolean): HeaderSpec => ({ name, value, secret });

describe('custom headers: validation', () => {
  it('accepts up to 10 token names with printable values, in their order and case', () => {
    const list = Array.from({ length: 10 }, (_, i) => h(`X-Key-${i}`, `value ${i}\twith tab`, i % 2 === 0));
    const checked = validHeaders('input.headers', list);
    assert.deepEqual(
      checked.map((c) => [c.name, c.value, c.secret, c.keep]),
      list.map((l) => [l.name, l.value, l.secret === true, false]),
    );
  });

  it('refuses an 11th header', () => {
    refused(
      Array.from({ length: 11 }, (_, i) => h(`X-${i}`)),
      'input.headers',
      /at most 10 headers \(got 11\)/,
    );
  });

  for (const name of [
    'content-type',
    'Content-Type',
    'CONTENT-LENGTH',
    'Host',
    'user-agent',
    'Authorization',
    'AUTHORIZATION',
    'webhook-id',
    'Webhook-Signature',
    'WEBHOOK-anything',
    'Connection',
    'transfer-encoding',
    'TE',
    'Upgrade',
    'keep-alive',
    'Proxy-Authorization',
    'proxy-connection',
    'Expect',
    'traceparent',
    'TraceState',
  ]) {
    it(`refuses ${name}, naming it and why`, () => {
      refused(
        [h('X-Ok'), h(name, SECRET, true)],
        'input.headers[1].name',
        new RegExp(`^input\\.headers\\[1\\]\\.name: ${name} cannot be a custom header: .+`),
      );
    });
  }

  it('says why for each kind of reserved name', () => {
    assert.match(reservedHeader('authorization')!, /bearerToken/);
    assert.match(reservedHeader('Webhook-Timestamp')!, /Standard Webhooks/);
    assert.match(reservedHeader('proxy-authenticate')!, /proxies/);
    assert.equal(reservedHeader('X-Webhook-Id'), null, 'only names starting with webhook- are the contract’s');
    assert.equal(reservedHeader('Content-Typo'), null);
  });

  it('refuses names that are not RFC 9110 tokens, or longer than 64', () => {
    for (const name of ['X Key', 'X:Key', 'X-Key\r\nInjected: 1', 'X-Kéy', '(x)', 'X-Key\u0000']) {
      refused([h(name)], 'input.headers[0].name', /expected an HTTP header name/);
    }
    refused([h('')], 'input.headers[0].name', /expected 1 to 64 characters \(got 0\)/);
    refused([h('X'.repeat(65))], 'input.headers[0].name', /expected 1 to 64 characters \(got 65\)/);
    assert.equal(validHeaders('f', [h('X'.repeat(64))]).length, 1);
  });

  it('refuses duplicates case-insensitively, naming both places', () => {
    refused(
      [h('X-Key'), h('X-Other'), h('x-KEY')],
      'input.headers[2].name',
      /x-KEY is given twice \(also input\.headers\[0\]/,
    );
  });

  it('refuses CR, LF, NUL and other control characters in values without quoting them', () => {
    for (const value of [
      `${SECRET}\r\nX-Injected: 1`,
      `${SECRET}\nX`,
      `${SECRET}\rX`,
      `${SECRET}\u0000`,
      `${SECRET}\u001b[31m`,
      `${SECRET}\u007f`,
      `${SECRET}é`,
      ` ${SECRET}`,
      `${SECRET} `,
    ]) {
      for (const secret of [true, false]) {
        refused([h('X-Key', value, secret)], 'input.headers[0].value', /expected printable ASCII/);
      }
    }
  });

  it('refuses empty and over-long values, and more than 8 KiB in all', () => {
    refused([h('X-Key', '')], 'input.headers[0].value', /expected 1 to 1024 characters \(got 0\)/);
    refused(
      [h('X-Key', 'a'.repeat(1025), true)],
      'input.headers[0].value',
      /expected 1 to 1024 characters \(got 1025\)/,
    );
    const big = Array.from({ length: 9 }, (_, i) => h(`X-${i}`, 'a'.repeat(1000)));
    refused(big, 'input.headers', new RegExp(`at most ${MAX_HEADERS_BYTES} bytes`));
    assert.equal(validHeaders('f', big.slice(0, 8)).length, 8);
  });

  it('an empty secret value keeps the stored one only when there is one under that name', () => {
    const [kept] = validHeaders('input.headers', [h('x-token', '', true)], new Set(['x-token']));
    assert.deepEqual(kept, { name: 'x-token', value: '', secret: true, keep: true });
    refused([h('X-Token', '', true)], 'input.headers[0].value', /X-Token has none/, new Set(['x-other']));
    refused([h('X-Token', '', false)], 'input.headers[0].value', /got 0/, new Set(['x-token']));
  });
});

describe('attempt forensics', () => {
  it('timings: the phases as measured; a reused connection has no dns, connect or tls', () => {
    const phases = { dns: 3, tcp: 2, tls: 7, firstByte: 11, total: 25 };
    assert.deepEqual(attemptTimings(phases, false, 99), {
      dnsMs: 3,
      connectMs: 2,
      tlsMs: 7,
      firstByteMs: 11,
      totalMs: 25,
      reusedConnection: false,
    });
    assert.deepEqual(attemptTimings(phases, true, 99), {
      dnsMs: null,
      connectMs: null,
      tlsMs: null,
      firstByteMs: 11,
      totalMs: 25,
      reusedConnection: true,
    });
    assert.deepEqual(attemptTimings({ dns: 0, tcp: 1 }, false, 5000.4), {
      dnsMs: 0,
      connectMs: 1,
      tlsMs: null,
      firstByteMs: null,
      totalMs: 5000,
      reusedConnection: false,
    });
  });

  it('remote address: ip:port, IPv6 in brackets', () => {
    assert.equal(remoteAddress('127.0.0.1', 8080), '127.0.0.1:8080');
    assert.equal(remoteAddress('::1', 443), '[::1]:443');
    assert.equal(remoteAddress(undefined, undefined), null);
  });

  it('response headers: lower-case, set-cookie dropped, at most 8 KiB, whole headers dropped and counted', () => {
    const headers: Record<string, string | string[]> = {
      'Content-Type': 'text/plain',
      'set-cookie': ['session=abc', 'other=def'],
      vary: ['accept', 'origin'],
    };
    for (let i = 0; i < 20; i++) headers[`x-big-${i}`] = 'b'.repeat(1000);
    const out = recordedResponseHeaders(headers);
    assert.equal(out['content-type'], 'text/plain');
    assert.equal(out.vary, 'accept, origin');
    assert.ok(!('set-cookie' in out));
    const kept = Object.keys(out).filter((k) => k.startsWith('x-big-'));
    for (const k of kept) assert.equal(out[k], 'b'.repeat(1000), 'a kept header is never cut');
    const size = Object.entries(out)
      .filter(([k]) => k !== DROPPED_HEADERS_KEY)
      .reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    assert.ok(size <= MAX_RESPONSE_HEADERS_BYTES, `${size} bytes kept`);
    assert.equal(out[DROPPED_HEADERS_KEY], 20 - kept.length);
    assert.ok(kept.length >= 7);
    assert.ok(!(DROPPED_HEADERS_KEY in recordedResponseHeaders({ a: 'b' })));
  });
});
