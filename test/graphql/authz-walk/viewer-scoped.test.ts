import { walkAs } from './walk.js';

// Scoped to account A, every id planted of another account.
walkAs('VIEWER', ['query', 'subscription', 'mutation'], true);
