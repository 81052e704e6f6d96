import { walkAs } from './walk.js';

// Scoped to account A, every id planted of another account.
walkAs('PUBLISHER', ['query', 'subscription', 'mutation'], true);
