import type { Logger } from '../logger.js';

// A process is a list of components, each started after those it needs and
// stopped before them: `start` runs one component's start and remembers its
// stop; `stop` runs the remembered stops last first. A start that fails part
// way stops what had started before rethrowing, so a failed start never leaves
// a pool, a LISTEN connection, a worker or an embedded server running.

interface Started {
  name: string;
  stop: () => Promise<void> | void;
}

export class Lifecycle {
  private readonly started: Started[] = [];

  constructor(private readonly log: Logger) {}

  /** Starts one component; `stop` (if any) is run at shutdown, before the components started earlier. */
  async start<T>(name: string, start: () => Promise<T> | T, stop?: (value: T) => Promise<void> | void): Promise<T> {
    const value = await start();
    if (stop) this.started.push({ name, stop: () => stop(value) });
    return value;
  }

  /** The components started so far, in start order. */
  get names(): string[] {
    return this.started.map((c) => c.name);
  }

  /** Stops every started component, last first; one that fails to stop is logged and the others still stop. */
  async stop(): Promise<void> {
    for (let c = this.started.pop(); c; c = this.started.pop()) {
      try {
        await c.stop();
      } catch (err) {
        this.log.error({ component: c.name, err: err instanceof Error ? err.message : String(err) }, 'stopping failed');
      }
    }
  }
}
