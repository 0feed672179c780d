import { describe, expect, it } from 'vitest';
import { job, jobHandlersOf, type JobContext } from '../src/index.js';

class Base {
  readonly prefix: string = 'base';
  @job('base.echo')
  echo(args: string): string {
    return `${this.prefix}:${args}`;
  }
}

class Mailer extends Base {
  override readonly prefix = 'mailer';
  @job('mail.send', { queue: 'mail' })
  send(args: { to: string }, ctx: JobContext): string {
    return `${this.prefix} sent to ${args.to} (attempt ${ctx.attempt})`;
  }
  undecorated(): string {
    return 'not a job';
  }
}

describe('@job', () => {
  it('collects the handlers of a class and its bases, bound to the instance, with their queues', async () => {
    const { handlers, queues } = jobHandlersOf(new Mailer());
    expect(Object.keys(handlers).sort()).toEqual(['base.echo', 'mail.send']);
    expect(queues.sort()).toEqual(['default', 'mail']);
    expect(await handlers['base.echo']!('hi', {} as JobContext)).toBe('mailer:hi');
    expect(await handlers['mail.send']!({ to: 'ana' }, { attempt: 2 } as JobContext)).toBe('mailer sent to ana (attempt 2)');
  });

  it('finds none in a plain object, and refuses two methods for one task', () => {
    expect(jobHandlersOf({ anything: () => 1 })).toEqual({ handlers: {}, queues: [] });
    class Twice {
      @job('same')
      one(): string {
        return 'one';
      }
      @job('same')
      two(): string {
        return 'two';
      }
    }
    expect(() => jobHandlersOf(new Twice())).toThrow(/two @job methods handle same/);
  });
});
