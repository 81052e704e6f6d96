import { walkAs } from './walk.js';

// Scoped to account A, every id planted of another account.
walkAs('SUPPORT', ['query', 'subscription', 'mutation'], true, { index: 1, of: 2 });
