// The test kit: one way to get a database, a server, a receiver, a client and
// the API helpers. Every test file and bench/ import from here.
export * from './api.js';
export * from './clock.js';
export * from './db.js';
export * from './eventually.js';
export * from './feed.js';
export * from './gql.js';
export * from './paths.js';
export * from './receiver.js';
export * from './server.js';
export * from './signatures.js';
export * from './walk.js';
export * from './otlp.js';
