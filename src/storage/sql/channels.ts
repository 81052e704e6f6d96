// The NOTIFY channels, in one place: who sends on each and who listens. A
// notification is sent when its transaction commits, and lost if the LISTEN
// connection is away then: every listener also has a way to catch up
// (polling, a reload on reconnect).

/** Deliveries became due (publishing, requeue, release, resume); workers claim. Caught up by polling. */
export const DUE_CHANNEL = 'hookline_due';

/** An API key was revoked (its id); every process forgets it and closes its sockets. Caught up on reconnect. */
export const KEYS_CHANNEL = 'hookline_keys';

/** Live-feed messages (JSON) for the GraphQL subscriptions of every process; lost ones are not replayed. */
export const FEED_CHANNEL = 'hookline_feed';
