import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { secretChange, type Actor, type SecretChange } from '../../domain/audit.js';
import type { Clock } from '../../domain/clock.js';
import { badInput } from '../../domain/errors.js';
import { newSigningKeyPair } from '../../domain/signing.js';
import { newWebhookSecret } from '../../domain/tokens.js';
import { isUuid, validOverlap, validSecret } from '../../domain/validation.js';
import type { Webhook } from '../../storage/entities/index.js';
import {
  lockWebhook,
  setHmacSecret,
  setSigningKey,
  type NewWebhook,
  type StoredWebhook,
  type WebhookConfigChange,
} from '../../storage/sql/webhooks.js';
import type { SecretVault } from '../secrets.js';
import type { Scope } from '../../domain/accounts.js';
import { audited, readWebhookOrFail, webhookToChange } from './common.js';

// A webhook's bearer token, HMAC secret and ED25519 key: checked, sealed with
// the vault before they are stored, rotated with an overlap.

export type SignatureScheme = 'HMAC_SHA256' | 'ED25519';

export interface RotatedSecret {
  webhook: Webhook;
  /** The new whsec_ secret (HMAC_SHA256), shown only here. */
  secret: string | null;
  /** The new whpk_ public key (ED25519). */
  publicKey: string | null;
  previousSecretExpiresAt: Date | null;
}

export const DEFAULT_OVERLAP_SECONDS = 86_400;

export interface SecretsAtCreation {
  bearerToken?: string | null;
  hmacSecret?: string | null;
  generateHmacSecret?: boolean | null;
  generateSigningKey?: boolean | null;
}

/** A new webhook's secrets, checked; `seal` turns them into its stored columns once its id is known. */
export function secretsAtCreation(vault: SecretVault, input: SecretsAtCreation) {
  const bearerToken = input.bearerToken == null ? null : validSecret('input.bearerToken', input.bearerToken, 'bearer');
  if (input.generateHmacSecret && input.hmacSecret != null) {
    throw badInput(
      'input.generateHmacSecret',
      'cannot be combined with input.hmacSecret: give a secret or ask for one, not both',
    );
  }
  const generatedSecret = input.generateHmacSecret ? newWebhookSecret() : null;
  const hmacSecret =
    generatedSecret ?? (input.hmacSecret == null ? null : validSecret('input.hmacSecret', input.hmacSecret, 'hmac'));
  const signing = input.generateSigningKey ? newSigningKeyPair() : null;
  const changes: Record<string, SecretChange> = {};
  if (bearerToken !== null) changes.bearerToken = 'set';
  if (hmacSecret !== null) changes.hmacSecret = 'set';
  if (signing) changes.signingKey = 'set';
  return {
    generatedSecret,
    /** For the audit entry: which were set, never their values. */
    changes,
    seal: (id: string): Pick<NewWebhook, 'bearerToken' | 'hmacSecret' | 'signingKey' | 'signingPublicKey'> => ({
      bearerToken: vault.seal('bearer_token', id, bearerToken),
      hmacSecret: vault.seal('hmac_secret', id, hmacSecret),
      signingKey: signing && vault.seal('signing_key', id, signing.privateKey),
      signingPublicKey: signing?.publicKey ?? null,
    }),
  };
}

export interface SecretsUpdate {
  bearerToken?: string | null;
  clearBearerToken?: boolean | null;
  hmacSecret?: string | null;
  clearHmacSecret?: boolean | null;
}

/** An update's secrets, checked; `apply` gives the columns to set and the audit changes against the stored row. */
export function secretsUpdate(vault: SecretVault, input: SecretsUpdate) {
  if (input.clearBearerToken && input.bearerToken != null) {
    throw badInput(
      'input.clearBearerToken',
      'cannot be combined with input.bearerToken: set a token or clear it, not both',
    );
  }
  if (input.clearHmacSecret && input.hmacSecret != null) {
    throw badInput(
      'input.clearHmacSecret',
      'cannot be combined with input.hmacSecret: set a secret or clear it, not both',
    );
  }
  const bearer = input.bearerToken != null ? validSecret('input.bearerToken', input.bearerToken, 'bearer') : null;
  const hmac = input.hmacSecret != null ? validSecret('input.hmacSecret', input.hmacSecret, 'hmac') : null;
  return (current: StoredWebhook) => {
    const columns: WebhookConfigChange = {};
    const changes: Record<string, SecretChange> = {};
    if (bearer !== null) columns.bearerToken = vault.seal('bearer_token', current.id, bearer);
    if (input.clearBearerToken) columns.bearerToken = null;
    // Replacing or clearing the HMAC secret takes effect at once: no overlap (rotateSecret has one).
    if (hmac !== null || input.clearHmacSecret) {
      columns.hmacSecret = hmac === null ? null : vault.seal('hmac_secret', current.id, hmac);
      columns.previousHmacSecret = null;
      columns.previousHmacExpiresAt = null;
    }
    const bearerChange =
      columns.bearerToken === undefined ? null : secretChange(current.bearerToken, columns.bearerToken);
    const hmacChange = columns.hmacSecret === undefined ? null : secretChange(current.hmacSecret, columns.hmacSecret);
    if (bearerChange) changes.bearerToken = bearerChange;
    if (hmacChange) changes.hmacSecret = hmacChange;
    return { columns, changes };
  };
}

export class WebhookSecrets {
  constructor(
    private readonly pool: pg.Pool,
    /** For reads only: every change is a transaction on the pool. */
    private readonly reads: DataSource,
    private readonly vault: SecretVault,
    private readonly clock: Clock,
  ) {}

  /** The end of a rotation's overlap, while it lasts (the later of the two schemes'). */
  previousSecretExpiresAt(w: Webhook): Date | null {
    const now = this.clock.now();
    const ends = [w.previousHmacExpiresAt, w.previousSigningExpiresAt].filter(
      (d): d is Date => !!d && d.getTime() > now,
    );
    return ends.length ? new Date(Math.max(...ends.map((d) => d.getTime()))) : null;
  }

  /**
   * A new HMAC secret or ED25519 key; the previous one keeps signing beside it
   * until the overlap ends (0: at once). Only one previous is kept: rotating
   * again during an overlap drops the oldest.
   */
  async rotateSecret(
    scope: Scope,
    id: string,
    scheme: SignatureScheme,
    overlapSeconds: number,
    actor: Actor,
  ): Promise<RotatedSecret> {
    const overlap = validOverlap('overlapSeconds', overlapSeconds);
    const until = overlap > 0 ? new Date(this.clock.now() + overlap * 1000) : null;
    let secret: string | null = null;
    let publicKey: string | null = null;
    await audited(this.pool, async (db) => {
      if (isUuid(id)) await lockWebhook(db, id);
      const current = await webhookToChange(db, scope, id);
      if (scheme === 'HMAC_SHA256') {
        secret = newWebhookSecret();
        const previous = current.hmacSecret && until ? this.vault.open('hmac_secret', id, current.hmacSecret) : null;
        await setHmacSecret(
          db,
          id,
          this.vault.seal('hmac_secret', id, secret),
          this.vault.seal('previous_hmac_secret', id, previous),
          previous === null ? null : until,
        );
      } else {
        const pair = newSigningKeyPair();
        publicKey = pair.publicKey;
        const previous = current.signingKey && until ? this.vault.open('signing_key', id, current.signingKey) : null;
        await setSigningKey(
          db,
          id,
          this.vault.seal('signing_key', id, pair.privateKey),
          pair.publicKey,
          this.vault.seal('previous_signing_key', id, previous),
          previous === null ? null : until,
        );
      }
      const field = scheme === 'HMAC_SHA256' ? 'hmacSecret' : 'signingKey';
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.secret_rotated',
          targetType: 'Webhook',
          targetId: id,
          changes: { [field]: 'rotated', scheme, overlapSeconds: overlap },
          accountId: current.accountId,
        },
      };
    });
    const webhook = await readWebhookOrFail(this.reads, scope, id);
    return { webhook, secret, publicKey, previousSecretExpiresAt: this.previousSecretExpiresAt(webhook) };
  }
}
