import type { Keyring } from '../src/domain/secret-box.js';

// Migrations that seal secrets need the secret keys, which live outside the
// database: `migrate` hands them over here before running (storage/data-source.ts).
let keyring: Keyring | null = null;

export function useMigrationKeyring(ring: Keyring | null): void {
  keyring = ring;
}

export function migrationKeyring(): Keyring {
  if (!keyring) {
    throw new Error(
      'this migration seals secrets and needs the secret keys: run it with `hookline migrate` (or start the server)',
    );
  }
  return keyring;
}
