import type { PubSub } from 'type-graphql';

// The in-process side of the live feed: each subscriber gets its own bounded
// queue. Publishing never waits and never throws; a subscriber whose queue is
// full is ended with SlowConsumerError instead of slowing anyone else down.

export const SUBSCRIBER_BUFFER = 1000;

export class SlowConsumerError extends Error {
  readonly code = 'SLOW_CONSUMER';
  constructor(limit: number) {
    super(`subscriber fell ${limit} messages behind and was dropped; reconnect and catch up from the delivery log`);
  }
}

interface Sub {
  push(value: unknown): void;
}

export class BoundedPubSub implements PubSub {
  private topics = new Map<string, Set<Sub>>();

  constructor(private readonly limit = SUBSCRIBER_BUFFER) {}

  publish(routingKey: string, ...args: unknown[]): void {
    for (const sub of this.topics.get(routingKey) ?? []) sub.push(args[0]);
  }

  subscriberCount(routingKey: string): number {
    return this.topics.get(routingKey)?.size ?? 0;
  }

  subscribe(routingKey: string): AsyncIterable<unknown> {
    const queue: unknown[] = [];
    let waiting: ((r: IteratorResult<unknown>) => void) | null = null;
    let failed: Error | null = null;
    let done = false;
    const topics = this.topics;
    const limit = this.limit;

    const sub: Sub = {
      push(value) {
        if (done || failed) return;
        if (waiting) {
          const w = waiting;
          waiting = null;
          w({ value, done: false });
        } else if (queue.length >= limit) {
          failed = new SlowConsumerError(limit);
          queue.length = 0;
          unsubscribe();
        } else queue.push(value);
      },
    };
    const unsubscribe = () => {
      topics.get(routingKey)?.delete(sub);
      if (topics.get(routingKey)?.size === 0) topics.delete(routingKey);
    };
    let set = topics.get(routingKey);
    if (!set) topics.set(routingKey, (set = new Set()));
    set.add(sub);

    const iterator: AsyncIterableIterator<unknown> = {
      next() {
        if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
        if (failed) return Promise.reject(failed);
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return() {
        done = true;
        unsubscribe();
        queue.length = 0;
        if (waiting) waiting({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
