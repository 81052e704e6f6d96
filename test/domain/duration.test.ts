import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration, parseDurationList } from '../../src/domain/duration.js';

describe('parseDuration', () => {
  it('reads each unit', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('5s'), 5_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('5d'), 432_000_000);
  });

  it('reads a bare number as milliseconds', () => {
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('0'), 0);
  });

  it('reads fractions and rounds to whole milliseconds', () => {
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('0.5s'), 500);
    assert.equal(parseDuration('1.6'), 2);
    assert.equal(parseDuration('0.0004s'), 0);
  });

  it('tolerates surrounding whitespace and a space before the unit', () => {
    assert.equal(parseDuration('  5s  '), 5_000);
    assert.equal(parseDuration('10 m'), 600_000);
  });

  it('does not confuse m (minutes) with ms', () => {
    assert.equal(parseDuration('3m'), 180_000);
    assert.equal(parseDuration('3ms'), 3);
  });

  it('rejects what is not a duration', () => {
    for (const bad of [
      '',
      ' ',
      'abc',
      '5x',
      '5 sec',
      '-5s',
      '+5s',
      'ms',
      's5',
      '1e3',
      '5S',
      '5H',
      '.5s',
      '5.s',
      '5s5',
      '1,5s',
      '5sm',
    ]) {
      assert.throws(() => parseDuration(bad), /is not a duration/, JSON.stringify(bad));
    }
  });

  it('quotes the offending text in the error', () => {
    assert.throws(
      () => parseDuration('7 weeks'),
      (e: unknown) => e instanceof Error && e.message.includes('"7 weeks"'),
    );
  });
});

describe('parseDurationList', () => {
  it('parses a comma-separated list in order', () => {
    assert.deepEqual(parseDurationList('5s,5m,30m'), [5_000, 300_000, 1_800_000]);
    assert.deepEqual(parseDurationList('1h'), [3_600_000]);
  });

  it('trims items and skips empty ones', () => {
    assert.deepEqual(parseDurationList(' 5s , 1m ,, 2h, '), [5_000, 60_000, 7_200_000]);
  });

  it('rejects an empty list', () => {
    for (const empty of ['', ' ', ',', ' , ,']) {
      assert.throws(() => parseDurationList(empty), /comma-separated list/, JSON.stringify(empty));
    }
  });

  it('rejects a list with a bad item', () => {
    assert.throws(() => parseDurationList('5s,soon,1h'), /"soon" is not a duration/);
  });
});

describe('formatDuration', () => {
  it('names the largest unit that divides evenly, and reads back to the same value', () => {
    const cases: [number, string][] = [
      [2_592_000_000, '30d'],
      [5_400_000, '90m'],
      [7_200_000, '2h'],
      [90_000, '90s'],
      [1500, '1500ms'],
      [0, '0ms'],
    ];
    for (const [ms, text] of cases) {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    }
  });
});
