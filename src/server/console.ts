import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

// The support console (console/, built by `npm run build` into dist/console),
// served at /console from the API's own origin. Its page may load scripts and
// styles only from here, talk only to this origin (HTTP and WebSocket), never
// be framed, and it carries no inline script. Hashed assets are cached for a
// year; the page itself is revalidated so a new build is picked up at once.

export const CONSOLE_PATH = '/console';

const ROOT = fileURLToPath(new URL('../../console/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  // 'self' covers ws: and wss: to the same host and port (CSP Level 3).
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function consoleBuilt(): boolean {
  return existsSync(`${ROOT}index.html`);
}

export function consoleRouter(): Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    res.setHeader('content-security-policy', CONSOLE_CSP);
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    next();
  });
  router.use(
    '/assets',
    express.static(`${ROOT}assets`, { immutable: true, maxAge: '365d', fallthrough: false, index: false }),
  );
  // Routes live in the hash (#/webhooks/…): every other path is the page.
  router.get(/.*/, (_req, res) => {
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(`${ROOT}index.html`);
  });
  return router;
}
