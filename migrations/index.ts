import { Initial1764380000000 } from './1764380000000-Initial.js';
import { SecretsAndAudit1764600000000 } from './1764600000000-SecretsAndAudit.js';
import { HotQueue1764800000000 } from './1764800000000-HotQueue.js';
import { Semantics1764900000000 } from './1764900000000-Semantics.js';
import { WebhookStats1765000000000 } from './1765000000000-WebhookStats.js';
import { FilterCost1765100000000 } from './1765100000000-FilterCost.js';
import { StoppingMeansStopped1765200000000 } from './1765200000000-StoppingMeansStopped.js';
import { Accounts1765300000000 } from './1765300000000-Accounts.js';
import { FairClaim1765350000000 } from './1765350000000-FairClaim.js';
import { Erasure1765500000000 } from './1765500000000-Erasure.js';
import { Traces1765600000000 } from './1765600000000-Traces.js';
import { Protection1765700000000 } from './1765700000000-Protection.js';
import { CustomHeaders1765800000000 } from './1765800000000-CustomHeaders.js';

// Listed explicitly, in order: globs break under ESM and bundling.
export const MIGRATIONS = [
  Initial1764380000000,
  SecretsAndAudit1764600000000,
  HotQueue1764800000000,
  Semantics1764900000000,
  WebhookStats1765000000000,
  FilterCost1765100000000,
  StoppingMeansStopped1765200000000,
  Accounts1765300000000,
  FairClaim1765350000000,
  Erasure1765500000000,
  Traces1765600000000,
  Protection1765700000000,
  CustomHeaders1765800000000,
];
