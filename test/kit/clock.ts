import type { Clock } from '../../src/domain/clock.js';

/**
 * A clock that moves only when told to, starting at the real time (so the
 * database's now() and this clock agree until a test moves it). random()
 * returns `fixedRandom` (0.5: every jitter at its nominal value) unless set.
 */
export class TestClock implements Clock {
  private offset = 0;
  private frozenAt: number | null = null;
  fixedRandom = 0.5;

  now(): number {
    return (this.frozenAt ?? Date.now()) + this.offset;
  }

  random(): number {
    return this.fixedRandom;
  }

  /** Moves the clock forward by `ms` (it keeps ticking with real time unless frozen). */
  advance(ms: number): void {
    this.offset += ms;
  }

  /** Stops the clock at its current reading. */
  freeze(): void {
    this.frozenAt = this.now() - this.offset;
  }
}
