import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { destinationProblem, isPublicAddress, MAX_URL_LENGTH, type UrlPolicy } from '../../src/domain/url-policy.js';
import { BlockedDestinationError, blockedLiteral, guardedLookup } from '../../src/delivery/guarded-lookup.js';

// Pure: no socket is opened and the only lookups are of IP literals, which
// dns.lookup answers itself without asking a resolver.

const STRICT: UrlPolicy = { allowPrivate: false, requireHttps: false };
const PRIVATE_OK: UrlPolicy = { allowPrivate: true, requireHttps: false };
const HTTPS_ONLY: UrlPolicy = { allowPrivate: false, requireHttps: true };
const PRIVATE_OK_HTTPS_ONLY: UrlPolicy = { allowPrivate: true, requireHttps: true };
const POLICIES = [STRICT, PRIVATE_OK, HTTPS_ONLY, PRIVATE_OK_HTTPS_ONLY];

const longUrl = (length: number, prefix = 'https://example.com/'): string =>
  prefix + 'a'.repeat(length - prefix.length);
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The sentence must name the address as the URL parser reads it, whatever the spelling. */
const address = (canonical: string): RegExp => new RegExp(`non-public address \\(${escape(canonical)}\\)`);

const LOCALHOST = /must not point at localhost/;
const CREDENTIALS = /credentials/;
const SCHEME = /must use http or https/;
const NOT_A_URL = /must be an absolute http:\/\/ or https:\/\/ URL/;
const EMPTY_LABEL = /empty label/;
const TOO_LONG = /at most 2048 characters/;
// The URL parser refuses zone indexes; which sentence that produces does not matter.
const ANY = /./;

type Refusal = [url: string, because: RegExp];

/** Refused only for where they point: allowPrivate lets every one through. */
const PRIVATE_DESTINATIONS: Refusal[] = [
  // Loopback, every way the URL parser reads an IPv4 number.
  ['http://127.0.0.1/', address('127.0.0.1')],
  ['http://127.0.0.1:3000/hook', address('127.0.0.1')],
  ['HTTP://127.0.0.1/', address('127.0.0.1')],
  ['http://127.255.255.254/', address('127.255.255.254')],
  ['http://2130706433/', address('127.0.0.1')],
  ['http://0177.0.0.1/', address('127.0.0.1')],
  ['http://017700000001/', address('127.0.0.1')],
  ['http://00000000000000000000177.0.0.1/', address('127.0.0.1')],
  ['http://127.000.000.001/', address('127.0.0.1')],
  ['http://0x7f.0.0.1/', address('127.0.0.1')],
  ['http://0x7f000001/', address('127.0.0.1')],
  ['http://0x7f.0x0.0x0.0x1/', address('127.0.0.1')],
  ['http://127.1/', address('127.0.0.1')],
  ['http://127.0.1/', address('127.0.0.1')],
  ['http://0x7f.1/', address('127.0.0.1')],
  ['http://0177.0x0.1/', address('127.0.0.1')],
  ['http://%31%32%37.0.0.1/', address('127.0.0.1')],
  ['http://１２７.0.0.1/', address('127.0.0.1')],
  ['http://127。0。0。1/', address('127.0.0.1')],
  ['http:/127.0.0.1/', address('127.0.0.1')],
  ['http:127.0.0.1', address('127.0.0.1')],
  ['http:\\\\127.0.0.1\\', address('127.0.0.1')],
  // Trailing dots: one is the fully qualified spelling of the same host.
  ['http://127.0.0.1./', address('127.0.0.1')],
  ['http://0x7f.1./', address('127.0.0.1')],
  // Only the host counts: what follows it in the fragment, query or path is not a host.
  ['http://127.0.0.1#@example.com/', address('127.0.0.1')],
  ['http://127.0.0.1?@example.com/', address('127.0.0.1')],
  ['http://127.0.0.1/@example.com', address('127.0.0.1')],
  ['http://127.0.0.1\\@example.com/', address('127.0.0.1')],
  // 0.0.0.0 reaches the local host on most systems; the rest of 0/8 is "this network".
  ['http://0.0.0.0/', address('0.0.0.0')],
  ['http://0/', address('0.0.0.0')],
  ['http://0x/', address('0.0.0.0')],
  ['http://0.1.2.3/', address('0.1.2.3')],
  // RFC 1918.
  ['http://10.0.0.1/', address('10.0.0.1')],
  ['http://10.1/', address('10.0.0.1')],
  ['http://167772161/', address('10.0.0.1')],
  ['http://0x0a.1/', address('10.0.0.1')],
  ['http://10.255.255.255/', address('10.255.255.255')],
  ['http://172.16.5.4/', address('172.16.5.4')],
  ['http://172.31.255.255/', address('172.31.255.255')],
  ['http://192.168.1.1/', address('192.168.1.1')],
  ['http://0300.0250.0.1/', address('192.168.0.1')],
  ['http://3232235521/', address('192.168.0.1')],
  // Carrier-grade NAT.
  ['http://100.64.0.1/', address('100.64.0.1')],
  ['http://100.127.255.254/', address('100.127.255.254')],
  // Link-local, and the cloud metadata service on it.
  ['http://169.254.169.254/latest/meta-data', address('169.254.169.254')],
  ['http://2852039166/', address('169.254.169.254')],
  ['http://0xa9fea9fe/', address('169.254.169.254')],
  ['http://169.254.0.1/', address('169.254.0.1')],
  // Multicast, broadcast, 240/4.
  ['http://224.0.0.1/', address('224.0.0.1')],
  ['http://239.255.255.250/', address('239.255.255.250')],
  ['http://255.255.255.255/', address('255.255.255.255')],
  ['http://4294967295/', address('255.255.255.255')],
  ['http://240.0.0.1/', address('240.0.0.1')],
  // Benchmarking, documentation, IETF protocol assignments, the old 6to4 relay anycast.
  ['http://198.18.0.1/', address('198.18.0.1')],
  ['http://198.19.255.254/', address('198.19.255.254')],
  ['http://192.0.2.1/', address('192.0.2.1')],
  ['http://198.51.100.7/', address('198.51.100.7')],
  ['http://203.0.113.9/', address('203.0.113.9')],
  ['http://192.0.0.8/', address('192.0.0.8')],
  ['http://192.88.99.1/', address('192.88.99.1')],
  // IPv6 without an IPv4 address inside.
  ['http://[::1]/', address('::1')],
  ['http://[::1]:80/', address('::1')],
  ['http://[0:0:0:0:0:0:0:1]/', address('::1')],
  ['http://[::]/', address('::')],
  ['http://[fc00::1]/', address('fc00::1')],
  ['http://[fd12:3456:789a::1]/', address('fd12:3456:789a::1')],
  ['http://[fe80::1]/', address('fe80::1')],
  ['http://[febf::1]/', address('febf::1')],
  ['http://[fec0::1]/', address('fec0::1')],
  ['http://[ff02::1]/', address('ff02::1')],
  ['http://[ff05::2]/', address('ff05::2')],
  ['http://[2001:db8::1]/', address('2001:db8::1')],
  ['http://[3fff::1]/', address('3fff::1')],
  ['http://[2001:2::1]/', address('2001:2::1')],
  ['http://[100::1]/', address('100::1')],
  // Outside 2000::/3, which ipaddr.js would call unicast.
  ['http://[4000::1]/', address('4000::1')],
  ['http://[::2:3:4]/', address('::2:3:4')],
  // IPv4-mapped ::ffff:0:0/96, dotted and hex.
  ['http://[::ffff:127.0.0.1]/', address('::ffff:7f00:1')],
  ['http://[::ffff:7f00:1]/', address('::ffff:7f00:1')],
  ['http://[0:0:0:0:0:ffff:127.0.0.1]/', address('::ffff:7f00:1')],
  ['http://[::ffff:10.0.0.1]/', address('::ffff:a00:1')],
  ['http://[::ffff:a9fe:a9fe]/', address('::ffff:a9fe:a9fe')],
  ['http://[::ffff:0.0.0.0]/', address('::ffff:0:0')],
  // IPv4-compatible ::/96 (ipaddr.js calls it unicast).
  ['http://[::127.0.0.1]/', address('::7f00:1')],
  ['http://[::7f00:1]/', address('::7f00:1')],
  ['http://[::10.0.0.1]/', address('::a00:1')],
  ['http://[::169.254.169.254]/', address('::a9fe:a9fe')],
  ['http://[::0.0.0.2]/', address('::2')],
  // IPv4-translated ::ffff:0:0:0/96 (RFC 6145) only exists inside translators.
  ['http://[::ffff:0:127.0.0.1]/', address('::ffff:0:7f00:1')],
  // NAT64: the well-known prefix by what it carries, the local-use prefix whatever it carries.
  ['http://[64:ff9b::10.0.0.1]/', address('64:ff9b::a00:1')],
  ['http://[64:ff9b::7f00:1]/', address('64:ff9b::7f00:1')],
  ['http://[64:ff9b::169.254.169.254]/', address('64:ff9b::a9fe:a9fe')],
  ['http://[64:ff9b:1::8.8.8.8]/', address('64:ff9b:1::808:808')],
  ['http://[64:ff9b:1::10.0.0.1]/', address('64:ff9b:1::a00:1')],
  // 6to4 2002::/16.
  ['http://[2002:7f00:1::]/', address('2002:7f00:1::')],
  ['http://[2002:a00:1::1]/', address('2002:a00:1::1')],
  ['http://[2002:c0a8:101::1]/', address('2002:c0a8:101::1')],
  ['http://[2002:a9fe:a9fe::]/', address('2002:a9fe:a9fe::')],
  // Teredo 2001::/32: server 65.54.227.120 with client 192.0.2.45 (the RFC 4380 example), 127.0.0.1, 10.0.0.1;
  // then server 10.0.0.1 with client 8.8.8.8; then server 127.0.0.1.
  ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', address('2001:0:4136:e378:8000:63bf:3fff:fdd2')],
  ['http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', address('2001:0:4136:e378:8000:63bf:80ff:fffe')],
  ['http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/', address('2001:0:4136:e378:8000:63bf:f5ff:fffe')],
  ['http://[2001:0:a00:1:8000:63bf:f7f7:f7f7]/', address('2001:0:a00:1:8000:63bf:f7f7:f7f7')],
  ['http://[2001:0:7f00:1::]/', address('2001:0:7f00:1::')],
  // localhost names.
  ['http://localhost/', LOCALHOST],
  ['http://localhost:3000', LOCALHOST],
  ['https://localhost/', LOCALHOST],
  ['http://LOCALHOST/', LOCALHOST],
  ['http://LocalHost./', LOCALHOST],
  ['http://localhost./', LOCALHOST],
  ['http://loc%61lhost/', LOCALHOST],
  ['http://localhost%2e/', LOCALHOST],
  ['http://api.localhost/hook', LOCALHOST],
  ['http://api.localhost./', LOCALHOST],
  ['http://a.b.localhost/', LOCALHOST],
];

/** Refused whatever the policy. */
const ALWAYS_REFUSED: Refusal[] = [
  // Userinfo: "example.com@" only looks like a host.
  ['http://example.com@127.0.0.1/', CREDENTIALS],
  ['http://127.0.0.1:80@example.com/', CREDENTIALS],
  ['http://user:pw@example.com/', CREDENTIALS],
  ['https://user:pass@example.com', CREDENTIALS],
  ['https://user@example.com/', CREDENTIALS],
  ['https://:pass@example.com/', CREDENTIALS],
  ['http://user:pass@localhost/', CREDENTIALS],
  // Schemes other than http and https.
  ['file:///etc/passwd', SCHEME],
  ['ftp://x', SCHEME],
  ['ftp://127.0.0.1/', SCHEME],
  ['gopher://127.0.0.1:6379/_INFO', SCHEME],
  ['dict://127.0.0.1:11211/', SCHEME],
  ['javascript:alert(1)', SCHEME],
  ['data:text/plain,hi', SCHEME],
  ['ws://example.com/', SCHEME],
  // Not absolute URLs, or hosts the URL parser refuses.
  ['not a url', NOT_A_URL],
  ['', NOT_A_URL],
  ['/relative/path', NOT_A_URL],
  ['example.com/hook', NOT_A_URL],
  ['//127.0.0.1/', NOT_A_URL],
  ['http://256.0.0.1/', NOT_A_URL],
  ['http://4294967296/', NOT_A_URL],
  ['http://1.2.3.4.5/', NOT_A_URL],
  ['http://[::ffff:0177.0.0.1]/', NOT_A_URL],
  ['http://[fe80::1%eth0]/', ANY],
  ['http://[fe80::1%25eth0]/', ANY],
  ['http://[::1%lo]/', ANY],
  // Empty labels: the URL parser reads these as domain names, not as addresses.
  ['http://127.0.0.1../', EMPTY_LABEL],
  ['http://0x7f.1../', EMPTY_LABEL],
  ['http://localhost../', EMPTY_LABEL],
  ['http://a..example.com/', EMPTY_LABEL],
  ['http://./', EMPTY_LABEL],
  // Over-long.
  [longUrl(MAX_URL_LENGTH + 1), TOO_LONG],
  [longUrl(4096, 'http://127.0.0.1/'), TOO_LONG],
];

const ACCEPTED: string[] = [
  'https://example.com/hook',
  'https://example.com:8443/a?b=c#d',
  'https://example.com./hook',
  'https://sub.example.co.uk/path?x=1',
  'https://localhost.example.com/',
  'https://notlocalhost/',
  'https://example.com/a@127.0.0.1',
  // The backslash ends the host: this is example.com, whatever the rest looks like.
  'http://example.com\\@127.0.0.1/',
  'http://93.184.216.34/x',
  'https://8.8.8.8/',
  'http://1.1.1.1:8080/x',
  // Public addresses in unusual spellings are public all the same.
  'http://134744072/',
  'http://0x08.0x08.0x08.0x08/',
  // Just outside the private, CGNAT and link-local blocks.
  'http://11.0.0.1/',
  'http://172.32.0.1/',
  'http://192.169.0.1/',
  'http://100.128.0.1/',
  'http://169.255.0.1/',
  'http://[2606:4700:4700::1111]/',
  'https://[2a00:1450:4001:82a::200e]/',
  'http://[::ffff:8.8.8.8]/',
  'http://[::ffff:808:808]/',
  'http://[::8.8.8.8]/',
  'http://[64:ff9b::8.8.8.8]/',
  'http://[2002:808:808::1]/',
  // Teredo, server 65.54.227.120 and client 8.8.8.8; then client 128.255.255.254, stored as 7f00:1.
  'http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/',
  'http://[2001:0:4136:e378:8000:63bf:7f00:1]/',
];

describe('destinationProblem', () => {
  it(`refuses ${PRIVATE_DESTINATIONS.length} spellings of non-public destinations`, () => {
    assert.ok(PRIVATE_DESTINATIONS.length >= 60);
    for (const [url, because] of PRIVATE_DESTINATIONS) {
      const problem = destinationProblem(url, STRICT);
      assert.ok(problem, `${url} should be refused`);
      assert.match(problem, because, url);
      assert.match(problem, /HOOKLINE_ALLOW_PRIVATE_DESTINATIONS/, url);
    }
  });

  it(`refuses ${ALWAYS_REFUSED.length} malformed URLs under every policy`, () => {
    for (const policy of POLICIES) {
      for (const [url, because] of ALWAYS_REFUSED) {
        const problem = destinationProblem(url, policy);
        assert.ok(problem, `${url} should be refused under ${JSON.stringify(policy)}`);
        assert.match(problem, because, url);
      }
    }
  });

  it(`accepts ${ACCEPTED.length} public destinations`, () => {
    assert.ok(ACCEPTED.length >= 12);
    for (const url of ACCEPTED) {
      assert.equal(destinationProblem(url, STRICT), null, url);
      assert.equal(destinationProblem(url, PRIVATE_OK), null, url);
    }
  });

  it('accepts every private destination when allowPrivate = true', () => {
    for (const [url] of PRIVATE_DESTINATIONS) {
      assert.equal(destinationProblem(url, PRIVATE_OK), null, url);
    }
  });

  it('refuses http: when requireHttps = true, even with allowPrivate = true', () => {
    for (const policy of [HTTPS_ONLY, PRIVATE_OK_HTTPS_ONLY]) {
      for (const url of [...ACCEPTED, ...PRIVATE_DESTINATIONS.map(([u]) => u)]) {
        if (new URL(url).protocol === 'https:') continue;
        const problem = destinationProblem(url, policy);
        assert.ok(problem, `${url} should be refused under ${JSON.stringify(policy)}`);
        assert.match(problem, /must use https/, url);
        assert.match(problem, /HOOKLINE_REQUIRE_HTTPS/, url);
      }
    }
  });

  it('accepts https: when requireHttps = true', () => {
    for (const url of ACCEPTED.filter((u) => u.startsWith('https:'))) {
      assert.equal(destinationProblem(url, HTTPS_ONLY), null, url);
    }
    assert.equal(destinationProblem('https://localhost/', PRIVATE_OK_HTTPS_ONLY), null);
    assert.match(destinationProblem('https://localhost/', HTTPS_ONLY)!, LOCALHOST);
    assert.match(destinationProblem('https://[::127.0.0.1]/', HTTPS_ONLY)!, address('::7f00:1'));
  });

  it(`accepts exactly ${MAX_URL_LENGTH} characters`, () => {
    assert.equal(MAX_URL_LENGTH, 2048);
    assert.equal(destinationProblem(longUrl(2048), STRICT), null);
    const problem = destinationProblem(longUrl(2049), STRICT);
    assert.ok(problem);
    assert.match(problem, /2048/);
    assert.match(problem, /2049/);
  });

  it('names the scheme it refuses', () => {
    assert.match(destinationProblem('ftp://x', STRICT)!, /ftp/);
  });

  it('leaves host names to the connect-time guard', () => {
    // Config time cannot know what a name resolves to; guardedLookup checks every address it gets.
    assert.equal(destinationProblem('https://127.0.0.1.nip.io/', STRICT), null);
    assert.equal(destinationProblem('https://0.0.0.0.example.com/', STRICT), null);
  });
});

describe('isPublicAddress', () => {
  it('is true for globally routable unicast addresses', () => {
    for (const a of [
      '93.184.216.34',
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700:4700::1111',
      '2001:4860:4860::8888',
      '2a00:1450:4001:82a::200e',
    ]) {
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
      '240.0.0.1',
      '192.0.2.1',
      '198.18.0.1',
      '192.88.99.1',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'fec0::1',
      'ff02::1',
      '2001:db8::1',
      '3fff::1',
      '2001:2::1',
      '100::1',
      '4000::1',
      '::2:3:4',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });

  it('judges an IPv6 address that carries an IPv4 address by that IPv4 address', () => {
    const cases: [address: string, isPublic: boolean][] = [
      ['::ffff:127.0.0.1', false],
      ['::ffff:7f00:1', false],
      ['::ffff:192.168.1.1', false],
      ['::ffff:8.8.8.8', true],
      ['::ffff:808:808', true],
      // IPv4-compatible; inet_ntop writes it dotted, the URL parser in hex.
      ['::127.0.0.1', false],
      ['::7f00:1', false],
      ['::10.0.0.1', false],
      ['::a00:1', false],
      ['::2', false],
      ['::8.8.8.8', true],
      ['::808:808', true],
      ['::ffff:0:7f00:1', false],
      ['::ffff:0:808:808', false],
      ['64:ff9b::10.0.0.1', false],
      ['64:ff9b::a00:1', false],
      ['64:ff9b::8.8.8.8', true],
      ['64:ff9b:1::8.8.8.8', false],
      ['64:ff9b:1::a00:1', false],
      ['2002:7f00:1::', false],
      ['2002:a00:1::1', false],
      ['2002:808:808::', true],
      ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', true],
      ['2001:0:a00:1:8000:63bf:f7f7:f7f7', false],
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', false],
      ['2001::1', false],
    ];
    for (const [a, isPublic] of cases) assert.equal(isPublicAddress(a), isPublic, a);
  });

  it('reads the Teredo client address inverted', () => {
    // 7f00:1 inverted is 128.255.255.254 (public); 80ff:fffe inverted is 127.0.0.1.
    assert.equal(isPublicAddress('2001:0:4136:e378:8000:63bf:7f00:1'), true);
    assert.equal(isPublicAddress('2001:0:4136:e378:8000:63bf:80ff:fffe'), false);
    // f5ff:fffe inverted is 10.0.0.1.
    assert.equal(isPublicAddress('2001:0:4136:e378:8000:63bf:f5ff:fffe'), false);
  });

  it('judges a zone-indexed address without its zone', () => {
    assert.equal(isPublicAddress('fe80::1%eth0'), false);
    assert.equal(isPublicAddress('fe80::1%2'), false);
    assert.equal(isPublicAddress('fe80::1%eth-0'), false);
    assert.equal(isPublicAddress('::1%lo'), false);
    assert.equal(isPublicAddress('ff02::1%eth0'), false);
    assert.equal(isPublicAddress('2606:4700:4700::1111%eth0'), true);
    assert.equal(isPublicAddress('2606:4700:4700::1111%'), false);
    assert.equal(isPublicAddress('8.8.8.8%eth0'), false);
  });

  it('is false for things that are not IP addresses', () => {
    for (const a of ['', ' ', 'example.com', 'localhost', '[::1]', '999.1.1.1', ':::', '1::2::3', '8.8.8.8/32']) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });

  it('is false for spellings other than the canonical ones, even of public addresses', () => {
    // ipaddr.js alone reads '::ffff:0177.0.0.1' as 177.0.0.1 and '0177.0.0.1' as 127.0.0.1.
    for (const a of [
      '2130706433',
      '134744072',
      '0x7f.0.0.1',
      '0177.0.0.1',
      '127.1',
      '010.0.0.1',
      '8.8.8.08',
      ' 8.8.8.8',
      '8.8.8.8 ',
      '::ffff:0177.0.0.1',
      '::ffff:0x7f.0.0.1',
      '::ffff:8.8.8.08',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });
});

describe('blockedLiteral', () => {
  const blocked = (url: string, policy = STRICT) => blockedLiteral(new URL(url), policy);

  it('names the non-public address a URL points at', () => {
    assert.equal(blocked('http://127.0.0.1/'), 'destination is a non-public address (127.0.0.1)');
    assert.equal(blocked('http://2130706433/'), 'destination is a non-public address (127.0.0.1)');
    assert.equal(blocked('http://[::127.0.0.1]/'), 'destination is a non-public address (::7f00:1)');
    assert.equal(blocked('http://[64:ff9b::10.0.0.1]/'), 'destination is a non-public address (64:ff9b::a00:1)');
  });

  it('agrees with destinationProblem on every literal in the corpus', () => {
    for (const [url] of PRIVATE_DESTINATIONS) {
      const host = new URL(url).hostname;
      if (host.includes('localhost')) continue;
      assert.match(blocked(url) ?? '', /^destination is a non-public address \(/, url);
      assert.equal(blocked(url, PRIVATE_OK), null, url);
    }
    for (const url of ACCEPTED) assert.equal(blocked(url), null, url);
  });

  it('leaves host names to the lookup', () => {
    assert.equal(blocked('http://localhost/'), null);
    assert.equal(blocked('https://example.com/'), null);
  });

  it('refuses http: when requireHttps = true, whether or not private destinations are allowed', () => {
    const reason = 'destination must use https (HOOKLINE_REQUIRE_HTTPS=true)';
    assert.equal(blocked('http://8.8.8.8/', HTTPS_ONLY), reason);
    assert.equal(blocked('http://127.0.0.1/', PRIVATE_OK_HTTPS_ONLY), reason);
    assert.equal(blocked('https://8.8.8.8/', HTTPS_ONLY), null);
    assert.equal(blocked('https://127.0.0.1/', PRIVATE_OK_HTTPS_ONLY), null);
    assert.equal(blocked('https://127.0.0.1/', HTTPS_ONLY), 'destination is a non-public address (127.0.0.1)');
  });
});

describe('guardedLookup', () => {
  const lookup = (hostname: string, allowPrivate: boolean) =>
    new Promise<{ err: unknown; address: unknown }>((resolve) => {
      guardedLookup(() => allowPrivate)(hostname, {}, (err, address) => resolve({ err, address }));
    });

  it('refuses what DNS answers with a non-public address, the IPv4-compatible form included', async () => {
    for (const hostname of ['127.0.0.1', '::1', '::7f00:1', '::ffff:7f00:1']) {
      const { err } = await lookup(hostname, false);
      assert.ok(err instanceof BlockedDestinationError, hostname);
      assert.equal(err.code, 'HOOKLINE_BLOCKED');
      assert.equal(err.address, hostname);
    }
  });

  it('lets them through when private destinations are allowed', async () => {
    assert.deepEqual(await lookup('127.0.0.1', true), { err: null, address: '127.0.0.1' });
  });
});
