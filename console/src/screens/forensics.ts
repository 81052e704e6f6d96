// An attempt's timings as the timeline draws them: each phase against the total.

/** The key the server adds to responseHeaders when it left headers out (src/domain/forensics.ts). */
export const DROPPED_KEY = '(dropped)';

export interface Timings {
  dnsMs?: number | null;
  connectMs?: number | null;
  tlsMs?: number | null;
  firstByteMs?: number | null;
  totalMs: number;
}

export interface Phase {
  label: string;
  ms: number | null;
  /** Of the total, for the bar (0 when not measured). */
  percent: number;
}

export function phasesOf(t: Timings): Phase[] {
  const phase = (label: string, ms: number | null | undefined): Phase => ({
    label,
    ms: ms ?? null,
    percent: ms == null || t.totalMs <= 0 ? 0 : Math.min(100, Math.round((ms / t.totalMs) * 100)),
  });
  return [
    phase('DNS', t.dnsMs),
    phase('Connect', t.connectMs),
    phase('TLS', t.tlsMs),
    phase('First byte', t.firstByteMs),
    phase('Total', t.totalMs),
  ];
}
