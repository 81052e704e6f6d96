// Attempts per hour as bars, the failed part in red: a day's shape at a
// glance. Plain SVG; every bar has a title with its figures.

interface Hour {
  hour: string;
  attempts: number;
  succeeded: number;
  failed: number;
}

const BAR = 22;
const HEIGHT = 120;

export function HourlyChart({ hourly }: { hourly: readonly Hour[] }) {
  const max = Math.max(1, ...hourly.map((h) => h.attempts));
  const total = hourly.reduce((n, h) => n + h.attempts, 0);
  const failed = hourly.reduce((n, h) => n + h.failed, 0);
  const scale = (n: number) => (n / max) * (HEIGHT - 16);
  const hourLabel = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return (
    <figure className="chart">
      <svg
        role="img"
        aria-label={`Attempts and failures per hour over the last ${hourly.length} hours: ${total} attempts, ${failed} failed`}
        width={hourly.length * BAR}
        height={HEIGHT + 18}
        viewBox={`0 0 ${hourly.length * BAR} ${HEIGHT + 18}`}
      >
        {hourly.map((h, i) => {
          const ok = scale(h.attempts - h.failed);
          const bad = scale(h.failed);
          return (
            <g key={h.hour}>
              <title>
                {hourLabel(h.hour)}: {h.attempts} attempts, {h.succeeded} succeeded, {h.failed} failed
              </title>
              <rect x={i * BAR + 3} y={HEIGHT - ok - bad} width={BAR - 6} height={ok} className="bar-ok" />
              <rect x={i * BAR + 3} y={HEIGHT - bad} width={BAR - 6} height={bad} className="bar-failed" />
            </g>
          );
        })}
        <line x1={0} x2={hourly.length * BAR} y1={HEIGHT} y2={HEIGHT} className="axis" />
        {hourly.length > 0 && (
          <>
            <text x={0} y={HEIGHT + 14} className="tick">
              {hourLabel(hourly[0]!.hour)}
            </text>
            <text x={hourly.length * BAR} y={HEIGHT + 14} textAnchor="end" className="tick">
              {hourLabel(hourly[hourly.length - 1]!.hour)}
            </text>
            <text x={hourly.length * BAR} y={10} textAnchor="end" className="tick">
              max {max}/h
            </text>
          </>
        )}
      </svg>
      <figcaption className="muted">
        Attempts per hour, <span className="key-ok">delivered</span> and <span className="key-failed">failed</span>
      </figcaption>
    </figure>
  );
}
