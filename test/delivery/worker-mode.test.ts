import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../kit/index.js';

// The worker's one mode and its transitions (delivery/worker.ts): new →
// running → draining → stopped, asserted, never started twice.

describe('delivery: the worker mode', () => {
  it('runs, drains once however often it is stopped, and refuses to start again', async () => {
    const s = await startServer('dlv_worker_mode');
    const worker = s.hookline.worker!;
    assert.equal(worker.mode, 'running');
    assert.throws(() => worker.start(), /cannot go from running to running/);
    const first = worker.stop(1_000);
    assert.equal(worker.mode, 'draining');
    assert.equal(worker.stop(1_000), first, 'a second stop waits for the same drain');
    await first;
    assert.equal(worker.mode, 'stopped');
    assert.throws(() => worker.start(), /cannot go from stopped to running/);
    await s.stop();
  });
});
