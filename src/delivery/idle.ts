// Proving that a worker is idle, for tests that must show something was NOT
// sent, without sleeping. Work counts in epochs: every attempt that ends, every
// claim handed in, every question asked bumps the epoch. A claim pass that
// started in an epoch and claimed nothing, with the epoch unchanged when it
// ended and nothing in flight or unwritten, proves quiescence.

export class IdleWatch {
  private epoch = 0;
  private lastEmptyEpoch = -1;
  private readonly waiters = new Set<() => void>();

  /** Something started or ended: any proof in progress must start over. */
  bump(): void {
    this.epoch++;
    this.notify();
  }

  /** A claim pass starts: its token, for passEnded. */
  passStarted(): number {
    return this.epoch;
  }

  passEnded(token: number, claimedNothing: boolean): void {
    if (claimedNothing) this.lastEmptyEpoch = token;
    this.notify();
  }

  /**
   * Resolves once `busy()` is false after a claim pass, asked for with `wake`,
   * found nothing in an epoch nothing else happened in.
   */
  async wait(wake: () => void, busy: () => string | null, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    this.epoch++;
    for (;;) {
      const epoch = this.epoch;
      const quiet = new Promise<void>((r) => this.waiters.add(r));
      wake();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        quiet.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), Math.max(0, until - Date.now())))),
      ]);
      clearTimeout(timer);
      if (timedOut) throw new Error(`worker not idle after ${timeoutMs} ms (${busy() ?? 'a claim pass pending'})`);
      if (this.lastEmptyEpoch === epoch && this.epoch === epoch && busy() === null) return;
    }
  }

  private notify(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }
}
