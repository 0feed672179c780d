import { formatMiB, type ChurnReport } from './runChurn.js';

/** A churn report for people: what the peers did, the honest checks, each program's RSS (baseline, peak, end, bound) and exit, the verdict. */
export function summary(report: ChurnReport): string {
  const { peers, counts } = report;
  const lines = [
    `churn: ${peers.started} peers started, ${peers.killed} SIGKILLed mid-traffic, ${peers.unanswered} SIGKILLed before their traffic flowed, ${peers.deaths.length} died by themselves`,
    `sockets opened ${counts.opened} (${counts.hostile} wrong-key or plaintext); requests ${counts.requests}, replies ${counts.replies}, served by churn workers ${counts.served}; ` +
      `published ${counts.published}, received ${counts.received}; malformed sent ${counts.malformed}`,
    `honest checks: ${report.checks.map((check) => `${check.channel} (${check.ms} ms)`).join(', ')}`,
    'RSS:      baseline     peak         end          bound (+)    V8 heap used: baseline → end   exit',
    ...report.programs.map((p) =>
      [
        p.name.padEnd(9),
        formatMiB(p.baselineKiB).padEnd(12),
        formatMiB(p.peakKiB).padEnd(12),
        formatMiB(p.endKiB).padEnd(12),
        formatMiB(p.boundKiB).padEnd(12),
        `${formatMiB(p.heapBaselineKiB)} → ${formatMiB(p.heapEndKiB)}`.padEnd(30),
        JSON.stringify(p.exit ?? 'died'),
      ].join(' '),
    ),
  ];
  for (const death of peers.deaths) lines.push(`peer ${death.peer} died by itself (code ${death.code}, signal ${death.signal}): ${death.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  lines.push(report.failures.length === 0 ? 'PASS' : `FAIL:\n- ${report.failures.join('\n- ')}`);
  return lines.join('\n');
}
