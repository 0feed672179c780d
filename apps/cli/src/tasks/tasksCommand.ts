import { Command, envOption, InvalidArgumentError, Option, parseDurationMs, parseEndpoint, parsePositiveInt } from '@correio/observability';
import type { BodyOf, TaskJob } from '@correio/protocol';
import { TaskClient, type TaskState } from '@correio/tasks';
import { Subscriber } from '@correio/transport';
import { exitQuietlyWhenStdoutCloses } from '../closedStdout.js';
import { explainServiceError, OperatorClient } from '../OperatorClient.js';
import { formatCounts, formatEvent, formatJob, formatJobLine, formatSchedule } from './formatJob.js';

interface ConnectionFlags {
  readonly broker: string;
  readonly timeout: number;
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
  readonly json?: boolean;
}

const STATES: readonly TaskState[] = ['scheduled', 'queued', 'active', 'retrying', 'succeeded', 'dead', 'cancelled'];
/** Pages `list --all` and `retry --dead` read at most. */
const MAX_PAGES = 1_000;

/**
 * `correio tasks`: the task queue (protocol revision 1.6) from a terminal — enqueue a job and wait
 * for its result, look at one, list them by queue and state with the counts, replay dead letters,
 * cancel, purge, and follow the live event stream.
 */
export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('the task queue: enqueue, inspect, list by state, retry dead letters, cancel, purge, schedule periodic jobs, follow events');
  withConnection(tasks.command('enqueue'))
    .description('enqueue a job; --wait waits for its result')
    .argument('<queue>', 'the queue, such as email')
    .argument('<task>', 'the task name, such as email.send')
    .argument('[args]', 'its arguments as JSON (integers, strings, lists, objects; no fractions in protocol v1)')
    .option('--id <id>', "the job's id, its uniqueness key: enqueueing it again returns the existing job")
    .option('--priority <0-9>', 'higher first', parseIntIn(0, 9))
    .option('--delay <duration>', 'due after this long (10s, 5m, 2h)', parseDurationMs)
    .option('--at <time>', 'due at this ISO time', parseTime)
    .option('--max-attempts <n>', 'attempts before it is a dead letter', parsePositiveInt)
    .option('--backoff <duration>', "the first retry's delay (doubled each time)", parseDurationMs)
    .option('--lease <duration>', 'how long a worker holds it without a heartbeat', parseDurationMs)
    .option('--wait [duration]', 'wait for the result (default 60s) and exit 1 unless the job succeeded', parseDurationMs)
    .action(async (queue: string, task: string, argsJson: string | undefined, flags: ConnectionFlags & EnqueueFlags) => {
      await withClient(flags, async (client) => {
        const { job, created } = await client.enqueue(queue, task, argsJson === undefined ? undefined : parseJson(argsJson), {
          ...(flags.id === undefined ? {} : { id: flags.id }),
          ...(flags.priority === undefined ? {} : { priority: flags.priority }),
          ...(flags.delay === undefined ? {} : { delayMs: flags.delay }),
          ...(flags.at === undefined ? {} : { runAt: flags.at }),
          ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
          ...(flags.backoff === undefined ? {} : { backoffMs: flags.backoff }),
          ...(flags.lease === undefined ? {} : { leaseMs: flags.lease }),
        });
        if (flags.wait === undefined) return print(flags, job, created ? `enqueued ${job.id}` : `${job.id} existed: not enqueued again`);
        const finished = await client.wait(job.id, { timeoutMs: flags.wait === true ? 60_000 : flags.wait });
        print(flags, finished);
        if (finished.state !== 'succeeded') process.exitCode = 1;
      });
    });
  withConnection(tasks.command('get'))
    .description("a job's state, arguments, result or error")
    .argument('<id>')
    .option('--wait [duration]', 'wait until it finishes (default 60s)', parseDurationMs)
    .action(async (id: string, flags: ConnectionFlags & { wait?: number | true }) => {
      await withClient(flags, async (client) => {
        const job = flags.wait === undefined ? await client.get(id) : await client.wait(id, { timeoutMs: flags.wait === true ? 60_000 : flags.wait });
        print(flags, job);
      });
    });
  withConnection(tasks.command('list'))
    .description('jobs by queue and state, with the counts per queue and state')
    .option('-q, --queue <queue>', 'only this queue')
    .addOption(new Option('-s, --state <state>', 'only this state').choices(STATES))
    .option('-n, --limit <n>', 'at most this many jobs', parsePositiveInt, 50)
    .action(async (flags: ConnectionFlags & { queue?: string; state?: TaskState; limit: number }) => {
      await withClient(flags, async (client) => {
        const jobs: TaskJob[] = [];
        let counts: BodyOf<'tasks.list.reply'>['counts'] = {};
        let after: string | undefined;
        for (let page = 0; page < MAX_PAGES && jobs.length < flags.limit; page++) {
          const reply = await client.list({ ...(flags.queue ? { queue: flags.queue } : {}), ...(flags.state ? { state: flags.state } : {}), limit: Math.min(1_000, flags.limit - jobs.length), ...(after ? { after } : {}) });
          jobs.push(...reply.jobs);
          counts = reply.counts;
          after = reply.next;
          if (after === undefined) break;
        }
        if (flags.json) return void process.stdout.write(`${JSON.stringify({ jobs, counts }, jsonValue)}\n`);
        process.stdout.write(formatCounts(counts, flags.queue));
        for (const job of jobs) process.stdout.write(`${formatJobLine(job)}\n`);
        if (after !== undefined) process.stdout.write(`… more: raise --limit\n`);
      });
    });
  withConnection(tasks.command('retry'))
    .description('replay dead letters (or cancelled jobs): queued again, attempts from 0')
    .argument('[ids...]', 'the jobs to replay')
    .option('--dead <queue>', 'every dead letter of this queue')
    .action(async (ids: string[], flags: ConnectionFlags & { dead?: string }) => {
      await withClient(flags, async (client) => {
        const targets = [...ids];
        if (flags.dead !== undefined) {
          let after: string | undefined;
          for (let page = 0; page < MAX_PAGES; page++) {
            const reply = await client.list({ queue: flags.dead, state: 'dead', limit: 1_000, ...(after ? { after } : {}) });
            targets.push(...reply.jobs.map((job) => job.id));
            after = reply.next;
            if (after === undefined) break;
          }
        }
        if (targets.length === 0) throw new InvalidArgumentError('name the jobs to replay, or --dead <queue> for every dead letter of a queue');
        for (const id of targets) print(flags, await client.retry(id), `replayed ${id}`);
      });
    });
  withConnection(tasks.command('cancel'))
    .description('cancel jobs: at once unless running; a running one is told at its next heartbeat')
    .argument('<ids...>')
    .action(async (ids: string[], flags: ConnectionFlags) => {
      await withClient(flags, async (client) => {
        for (const id of ids) {
          const job = await client.cancel(id);
          print(flags, job, job.cancel_requested ? `${id} is running: its worker is told to stop` : `${id} is ${job.state}`);
        }
      });
    });
  withConnection(tasks.command('purge'))
    .description("cancel a queue's waiting jobs (scheduled, queued, retrying), or with --state dead its dead letters")
    .argument('<queue>')
    .addOption(new Option('-s, --state <state>', 'only this state').choices(['scheduled', 'queued', 'retrying', 'dead']))
    .action(async (queue: string, flags: ConnectionFlags & { state?: 'scheduled' | 'queued' | 'retrying' | 'dead' }) => {
      await withClient(flags, async (client) => {
        let purged = 0;
        for (let round = 0; round < MAX_PAGES; round++) {
          const reply = await client.purge(queue, flags.state);
          purged += reply.purged;
          if (!reply.more) break;
        }
        process.stdout.write(flags.json ? `${JSON.stringify({ queue, purged })}\n` : `purged ${purged} job${purged === 1 ? '' : 's'} of ${queue}\n`);
      });
    });
  withConnection(tasks.command('schedule'))
    .description('create or replace a periodic schedule: a job at every tick of a cron expression (UTC)')
    .argument('<name>')
    .argument('<cron>', "five fields, or six with seconds first, such as '*/5 * * * *'")
    .argument('<queue>')
    .argument('<task>')
    .argument('[args]', 'the arguments of each job, as JSON')
    .option('--priority <0-9>', 'higher first', parseIntIn(0, 9))
    .option('--max-attempts <n>', 'attempts of each job before it is a dead letter', parsePositiveInt)
    .action(async (name: string, cron: string, queue: string, task: string, argsJson: string | undefined, flags: ConnectionFlags & { priority?: number; maxAttempts?: number }) => {
      await withClient(flags, async (client) => {
        const schedule = await client.schedule(name, cron, queue, task, {
          ...(argsJson === undefined ? {} : { args: parseJson(argsJson) }),
          ...(flags.priority === undefined ? {} : { priority: flags.priority }),
          ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
        });
        process.stdout.write(flags.json ? `${JSON.stringify(schedule, jsonValue)}\n` : `${formatSchedule(schedule)}\n`);
      });
    });
  withConnection(tasks.command('unschedule'))
    .description('remove a periodic schedule')
    .argument('<name>')
    .action(async (name: string, flags: ConnectionFlags) => {
      await withClient(flags, async (client) => {
        process.stdout.write((await client.unschedule(name)) ? `removed ${name}\n` : `no schedule ${name}\n`);
      });
    });
  withConnection(tasks.command('schedules'))
    .description('the periodic schedules and their next ticks')
    .action(async (flags: ConnectionFlags) => {
      await withClient(flags, async (client) => {
        const schedules = await client.schedules();
        if (flags.json) return void process.stdout.write(`${JSON.stringify(schedules, jsonValue)}\n`);
        process.stdout.write(schedules.length === 0 ? 'no schedules\n' : `${schedules.map(formatSchedule).join('\n')}\n`);
      });
    });
  tasks
    .command('follow')
    .description('print job state changes as they happen (the tasks.event stream), until Ctrl-C')
    .option('-q, --queue <queue>', 'only this queue')
    .option('--count <n>', 'stop after this many events', parsePositiveInt)
    .option('--json', 'print each event as JSON')
    .addOption(envOption('--proxy-sub <endpoint>', "the proxy's subscriber (XPUB) endpoint", 'CORREIO_PROXY_SUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .action(async (flags: { queue?: string; count?: number; json?: boolean; proxySub: string }) => {
      exitQuietlyWhenStdoutCloses();
      const subscriber = new Subscriber({});
      subscriber.subscribe(flags.queue === undefined ? 'tasks/' : `tasks/${flags.queue}/`);
      subscriber.connect(flags.proxySub);
      const stop = (): void => void subscriber.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let printed = 0;
      // Until Ctrl-C (the subscriber closes and the iteration ends) or --count events.
      for await (const publication of subscriber) {
        if (publication.envelope.type !== 'tasks.event') continue;
        const event = publication.envelope.body as BodyOf<'tasks.event'>;
        process.stdout.write(flags.json ? `${JSON.stringify(event, jsonValue)}\n` : `${formatEvent(event)}\n`);
        if (flags.count !== undefined && ++printed >= flags.count) break;
      }
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await subscriber.close();
    });
  return tasks;
}

interface EnqueueFlags {
  readonly id?: string;
  readonly priority?: number;
  readonly delay?: number;
  readonly at?: number;
  readonly maxAttempts?: number;
  readonly backoff?: number;
  readonly lease?: number;
  readonly wait?: number | true;
}

function withConnection(command: Command): Command {
  return command
    .addOption(envOption('--broker <endpoint>', 'the broker (MDP) endpoint', 'CORREIO_BROKER').argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .addOption(envOption('--token <token>', "a user's access token (servers in password mode need one)", 'CORREIO_TOKEN'))
    .addOption(envOption('--user <name>', 'log in as this user when no --token is given', 'CORREIO_USER'))
    .addOption(envOption('--password <password>', "the user's password (the variable keeps it out of the process list)", 'CORREIO_PASSWORD'))
    .addOption(envOption('--timeout <ms>', 'how long to keep trying while the queue fails over', 'CORREIO_CLIENT_TIMEOUT').argParser(parseDurationMs).default(30_000))
    .option('--json', 'print the job(s) as JSON');
}

async function withClient(flags: ConnectionFlags, use: (client: TaskClient) => Promise<void>): Promise<void> {
  exitQuietlyWhenStdoutCloses();
  const login = new OperatorClient({ broker: flags.broker, timeout: Math.min(flags.timeout, 10_000), ...(flags.token ? { token: flags.token } : {}), ...(flags.user ? { user: flags.user } : {}), ...(flags.password ? { password: flags.password } : {}) });
  let client: TaskClient | undefined;
  try {
    const token = flags.token !== undefined || flags.user !== undefined ? await login.userToken() : undefined;
    client = new TaskClient({ broker: flags.broker, timeoutMs: flags.timeout, ...(token === undefined ? {} : { auth: () => token }) });
    await use(client);
  } catch (error) {
    throw new Error(explainServiceError(error));
  } finally {
    await client?.close();
    await login.close();
  }
}

function print(flags: ConnectionFlags, job: TaskJob, headline?: string): void {
  if (flags.json) process.stdout.write(`${JSON.stringify(job, jsonValue)}\n`);
  else process.stdout.write(`${headline ? `${headline}\n` : ''}${formatJob(job)}`);
}

/** Binary values print as base64 in JSON. */
function jsonValue(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { base64: Buffer.from(value).toString('base64') } : value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`the arguments are not JSON (${(error as Error).message}); quote them for the shell, e.g. '{"to":"ana"}'`);
  }
}

function parseTime(value: string): number {
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new InvalidArgumentError(`not an ISO time: ${value} (e.g. 2026-12-24T18:00:00Z)`);
  return at;
}

function parseIntIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < min || number > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${value}`);
    return number;
  };
}
