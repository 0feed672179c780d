// The greeter service: one action, one periodic task, one event handler.
import { action, on, task, type ActionContext, type ClassContract, type EventContext, type ServiceEvent, type TaskContext } from '@correio/service';

export class Greeter {
  #greeted = 0;
  #joined: string[] = [];

  /** greeter.hello { name } → { greeting }; params are checked against the schema before this runs. */
  @action({
    params: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 50 } }, required: ['name'], additionalProperties: false },
    timeout: '2s',
  })
  async hello(ctx: ActionContext, params: { name: string }) {
    this.#greeted++;
    ctx.log.info({ name: params.name, caller: ctx.caller }, 'greeting');
    // Tell every service that cares, one instance each; the emit returns once they handled it.
    await ctx.emit('user.greeted', { name: params.name });
    return { greeting: `hi ${params.name}`, by: ctx.service.instance };
  }

  /** greeter.stats → how busy this instance has been. */
  @action()
  async stats(ctx: ActionContext) {
    return { instance: ctx.service.instance, greeted: this.#greeted, joined: this.#joined };
  }

  /** Every 5 s, tell every instance of every service how many greetings this one gave (a broadcast). */
  @task({ every: '5s' })
  async heartbeat(ctx: TaskContext) {
    await ctx.broadcast('greeter.heartbeat', { instance: ctx.service.instance, greeted: this.#greeted });
  }

  /** Someone joined: remember it (delivered to one greeter instance per emit). */
  @on('user.joined')
  async joined(ctx: EventContext, event: ServiceEvent<{ name: string }>) {
    this.#joined.push(event.data.name);
    ctx.log.info({ name: event.data.name, from: event.sender }, 'user joined');
  }
}

/** Typed calls: `new ServiceClient<GreeterContract>(...)`. */
export type GreeterContract = ClassContract<'greeter', Greeter, 'hello' | 'stats'>;
