import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { destinationProblem, isPublicAddress, MAX_URL_LENGTH } from '../../src/domain/url-policy.js';

const longUrl = (length: number): string => {
  const prefix = 'https://example.com/';
  return prefix + 'a'.repeat(length - prefix.length);
};

const PRIVATE_URLS = [
  'http://localhost:3000',
  'http://LOCALHOST/',
  'http://api.localhost/hook',
  'http://127.0.0.1',
  'http://127.1/',
  'http://2130706433/',
  'http://10.0.0.1',
  'http://172.16.5.4/',
  'http://192.168.1.1',
  'http://100.64.0.1/',
  'http://169.254.169.254',
  'http://[::1]/',
  'http://[fe80::1]/',
  'http://[fc00::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:10.0.0.1]/',
  'http://0.0.0.0',
  'http://[::]/',
  'http://224.0.0.1/',
];

describe('destinationProblem', () => {
  it('accepts public http(s) URLs', () => {
    for (const url of [
      'https://example.com/hook',
      'http://93.184.216.34/x',
      'https://example.com:8443/a?b=c#d',
      'http://[2606:4700:4700::1111]/',
    ]) {
      assert.equal(destinationProblem(url, false), null, url);
    }
  });

  it('rejects what is not a URL', () => {
    for (const raw of ['not a url', '', '/relative/path', 'example.com/hook']) {
      const problem = destinationProblem(raw, false);
      assert.equal(typeof problem, 'string', JSON.stringify(raw));
      assert.match(problem!, /http/);
    }
  });

  it('rejects schemes other than http and https', () => {
    for (const raw of ['ftp://x', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://example.com/']) {
      const problem = destinationProblem(raw, false);
      assert.ok(problem, raw);
      assert.match(problem, /http or https/);
    }
    assert.match(destinationProblem('ftp://x', false)!, /ftp/);
  });

  it('rejects credentials in the URL', () => {
    for (const raw of ['https://user:pass@example.com', 'https://user@example.com/', 'https://:pass@example.com/']) {
      const problem = destinationProblem(raw, false);
      assert.ok(problem, raw);
      assert.match(problem, /credentials/);
    }
  });

  it(`rejects URLs longer than ${MAX_URL_LENGTH} characters`, () => {
    assert.equal(MAX_URL_LENGTH, 2048);
    assert.equal(destinationProblem(longUrl(2048), false), null);
    const problem = destinationProblem(longUrl(2049), false);
    assert.ok(problem);
    assert.match(problem, /2048/);
    assert.match(problem, /2049/);
    // The length limit holds even when private destinations are allowed.
    assert.ok(destinationProblem(longUrl(2049), true));
  });

  it('rejects loopback, private, link-local, unspecified and mapped addresses', () => {
    for (const url of PRIVATE_URLS) {
      const problem = destinationProblem(url, false);
      assert.ok(problem, `${url} should be rejected`);
      assert.match(problem, /HOOKLINE_ALLOW_PRIVATE_DESTINATIONS/, url);
    }
  });

  it('rejects localhost written as a fully qualified name with a trailing dot', () => {
    assert.ok(destinationProblem('http://localhost./', false), 'http://localhost./ should be rejected');
    assert.ok(destinationProblem('http://api.localhost./', false), 'http://api.localhost./ should be rejected');
  });

  it('names the address it rejects', () => {
    assert.match(destinationProblem('http://169.254.169.254/latest/meta-data', false)!, /169\.254\.169\.254/);
  });

  it('does not mistake public names that merely contain "localhost" for localhost', () => {
    assert.equal(destinationProblem('https://localhost.example.com/', false), null);
    assert.equal(destinationProblem('https://notlocalhost/', false), null);
  });

  it('accepts every private destination when allowPrivate = true', () => {
    for (const url of PRIVATE_URLS) {
      assert.equal(destinationProblem(url, true), null, url);
    }
  });

  it('still rejects credentials, bad schemes and non-URLs when allowPrivate = true', () => {
    assert.match(destinationProblem('http://user:pass@localhost/', true)!, /credentials/);
    assert.match(destinationProblem('https://user:pass@example.com', true)!, /credentials/);
    assert.match(destinationProblem('ftp://127.0.0.1/', true)!, /http or https/);
    assert.ok(destinationProblem('not a url', true));
  });
});

describe('isPublicAddress', () => {
  it('is true for globally routable unicast addresses', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(isPublicAddress(a), true, a);
    }
  });

  it('is false for non-public addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.10',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      '::ffff:127.0.0.1',
      '::ffff:192.168.1.1',
      '2001:db8::1',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });

  it('is false for things that are not IP addresses', () => {
    for (const a of ['', 'example.com', 'localhost', '[::1]', '999.1.1.1']) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });
});
