import type { BodyOf, TaskJob, TaskSchedule } from '@correio/protocol';

/** A job for a person: its state first, then what it carries. */
export function formatJob(job: TaskJob): string {
  const lines = [
    `${job.id}  ${job.state}  ${job.queue} ${job.task}  attempt ${job.attempt}/${job.max_attempts}  priority ${job.priority}`,
    `  created ${iso(job.created_at)}  due ${iso(job.run_at)}  updated ${iso(job.updated_at)} (version ${job.version})`,
  ];
  if (job.worker !== undefined) lines.push(`  worker ${job.worker}${job.lease_until === undefined ? '' : `  lease until ${iso(job.lease_until)}`}`);
  if (job.cancel_requested) lines.push('  cancellation requested: its worker stops at its next heartbeat');
  if (job.args !== undefined) lines.push(`  args ${show(job.args)}`);
  if (job.progress !== undefined) lines.push(`  progress ${show(job.progress)}`);
  if (job.result !== undefined) lines.push(`  result ${show(job.result)}`);
  if (job.error !== undefined) lines.push(`  error ${job.error.type}: ${job.error.message}`);
  return `${lines.join('\n')}\n`;
}

/** One job in a list. */
export function formatJobLine(job: TaskJob): string {
  const error = job.error === undefined ? '' : `  ${job.error.type}: ${job.error.message.slice(0, 80)}`;
  return `${job.id}  ${job.state.padEnd(9)}  ${job.queue}  ${job.task}  ${job.attempt}/${job.max_attempts}  ${iso(job.updated_at)}${error}`;
}

/** The counts of tasks.list.reply, a line per queue. */
export function formatCounts(counts: BodyOf<'tasks.list.reply'>['counts'], only?: string): string {
  const queues = Object.keys(counts).filter((queue) => only === undefined || queue === only).sort();
  if (queues.length === 0) return 'no jobs\n';
  return `${queues.map((queue) => `${queue}: ${Object.entries(counts[queue] ?? {}).map(([state, count]) => `${state} ${count}`).join(', ')}`).join('\n')}\n`;
}

export function formatEvent(event: BodyOf<'tasks.event'>): string {
  const extra = [
    event.worker === undefined ? '' : ` worker ${event.worker}`,
    event.progress === undefined ? '' : ` progress ${show(event.progress)}`,
    event.error === undefined ? '' : ` ${event.error.type}: ${event.error.message}`,
  ].join('');
  return `${iso(event.at)}  ${event.queue}  ${event.id}  ${event.task}  ${event.state}  attempt ${event.attempt}${extra}`;
}

export function formatSchedule(schedule: TaskSchedule): string {
  const next = schedule.next_tick === undefined ? 'no next tick' : `next ${iso(schedule.next_tick)}`;
  const last = schedule.last_tick === undefined ? '' : `  last ${iso(schedule.last_tick)}`;
  return `${schedule.name}  '${schedule.cron}'  ${schedule.queue} ${schedule.task}  ${next}${last}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function show(value: unknown): string {
  const text = JSON.stringify(value, (_key, inner: unknown) => (inner instanceof Uint8Array ? `<${inner.length} bytes>` : inner));
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
}
