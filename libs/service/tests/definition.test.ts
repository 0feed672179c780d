import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  action,
  defineService,
  handlersOf,
  on,
  task,
  type ActionContext,
  type ClassContract,
  type EventContext,
  type ServiceContract,
  type ServiceEvent,
  type TaskContext,
} from '@correio/service';

describe('decorators', () => {
  class Base {
    prefix = 'hi';

    @action({ timeout: '1s' })
    async hello(_ctx: ActionContext, params: { name: string }) {
      return `${this.prefix} ${params.name}`;
    }

    @action()
    async legacy() {
      return 'base';
    }

    @task({ every: '5s' })
    async tick(_ctx: TaskContext) {
      return undefined;
    }

    @on('user.joined')
    async joined(_ctx: EventContext, _event: ServiceEvent<{ name: string }>) {
      return undefined;
    }

    helper() {
      return 'not exposed';
    }
  }

  class Derived extends Base {
    // An undecorated override hides the base action, as the override hides the method.
    override async legacy() {
      return 'derived';
    }

    @action()
    async extra() {
      return 'extra';
    }
  }

  it('collects actions, tasks and events, bound to the instance', async () => {
    const handlers = handlersOf(new Base());
    expect(Object.keys(handlers.actions).sort()).toEqual(['hello', 'legacy']);
    expect(Object.keys(handlers.tasks)).toEqual(['tick']);
    expect(handlers.tasks['tick']?.every).toBe('5s');
    expect(Object.keys(handlers.events)).toEqual(['user.joined']);
    expect(handlers.actions['hello']?.timeout).toBe('1s');
    await expect(handlers.actions['hello']!.handler({} as ActionContext, { name: 'ana' })).resolves.toBe('hi ana');
  });

  it('follows the prototype chain: inherited decorated methods count, undecorated overrides hide them', () => {
    const handlers = handlersOf(new Derived());
    expect(Object.keys(handlers.actions).sort()).toEqual(['extra', 'hello']);
  });

  it('refuses what cannot be a service', () => {
    expect(() => handlersOf({})).toThrow(/defineService/);
    expect(() => {
      class Twice {
        @on('a.b')
        async one() {
          return 1;
        }
        @on('a.b')
        async two() {
          return 2;
        }
      }
      handlersOf(new Twice());
    }).toThrow(/two methods handle the event a.b/);
    expect(() => on('Bad Name')).toThrow(RangeError);
    expect(() => {
      class Static {
        @action()
        static async nope() {
          return 0;
        }
      }
      return Static;
    }).toThrow(/public instance method/);
  });

  it('gives typed contracts from a class', () => {
    type Contract = ClassContract<'greeter', Base, 'hello'>;
    expectTypeOf<Contract['greeter.hello']['params']>().toEqualTypeOf<{ name: string }>();
    expectTypeOf<Contract['greeter.hello']['result']>().toEqualTypeOf<string>();
  });
});

describe('defineService', () => {
  const greeter = defineService({
    actions: {
      hello: { params: { type: 'object' }, handler: (_ctx: ActionContext, params: { name: string }) => ({ greeting: `hi ${params.name}` }) },
      count: { handler: async () => 3 },
    },
    tasks: { sweep: { every: '1m', handler: () => undefined } },
    events: { 'user.joined': { handler: () => undefined } },
  });

  it('is the plain-object equivalent of the decorators', () => {
    const handlers = handlersOf(greeter);
    expect(Object.keys(handlers.actions)).toEqual(['hello', 'count']);
    expect(Object.keys(handlers.tasks)).toEqual(['sweep']);
    expect(Object.keys(handlers.events)).toEqual(['user.joined']);
  });

  it('gives typed contracts', () => {
    type Contract = ServiceContract<'greeter', typeof greeter>;
    expectTypeOf<Contract['greeter.hello']['params']>().toEqualTypeOf<{ name: string }>();
    expectTypeOf<Contract['greeter.hello']['result']>().toEqualTypeOf<{ greeting: string }>();
    expectTypeOf<Contract['greeter.count']['result']>().toEqualTypeOf<number>();
  });
});
