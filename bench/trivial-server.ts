import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from './lib/ipc.js';

// The load generator's own ceiling: an HTTP server in a process of its own that
// reads each request and answers what `{ __typename }` answers, doing nothing
// else. What the generator reaches here bounds every rate it reports.

const BODY = JSON.stringify({ data: { __typename: 'Query' } });
const HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(BODY)) };

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

serve({}, { port: (server.address() as AddressInfo).port });
