import type { WebhookView } from './Settings';
import { When } from '../../ui';

// The destination's protection at a glance: its circuit (why deliveries wait
// when it is open, and when the next probe goes) and its limits.

export function CircuitBadge({ circuit }: { circuit: Pick<WebhookView['circuit'], 'state' | 'nextProbeAt'> }) {
  if (circuit.state === 'CLOSED') return null;
  return (
    <span className={`status circuit-${circuit.state}`} aria-label="Circuit">
      circuit {circuit.state === 'OPEN' ? 'open' : 'half-open: probing'}
    </span>
  );
}

export function Protection({ webhook: w }: { webhook: WebhookView }) {
  const c = w.circuit;
  return (
    <section aria-label="Protection" className="card">
      <h2>Protection</h2>
      <dl className="figures">
        <dt>Circuit</dt>
        <dd>
          {c.state === 'CLOSED' ? 'closed: sending normally' : <CircuitBadge circuit={c} />}
          {c.state !== 'CLOSED' && (
            <span className="muted">
              {' '}
              since <When at={c.openedAt} />; deliveries wait, keeping their attempts
            </span>
          )}
        </dd>
        <dt>Failures in a row</dt>
        <dd>{c.consecutiveFailures}</dd>
        {c.state !== 'CLOSED' && (
          <>
            <dt>Next probe</dt>
            <dd>
              <When at={c.nextProbeAt} />
            </dd>
          </>
        )}
        <dt>Rate limit</dt>
        <dd>{w.rateLimit === null || w.rateLimit === undefined ? 'none' : `${w.rateLimit} requests/s`}</dd>
        <dt>In flight at most</dt>
        <dd>{w.maxInFlight === null || w.maxInFlight === undefined ? 'the installation’s default' : w.maxInFlight}</dd>
      </dl>
    </section>
  );
}
