// Time and randomness, injected: every rule that reads the clock or rolls a
// die takes a Clock, so tests control it instead of sleeping. The queue's own
// times (due, leases) are the database's now(), shared by every instance.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

export const systemClock: Clock = { now: Date.now, random: Math.random };
