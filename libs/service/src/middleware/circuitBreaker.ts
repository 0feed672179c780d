import { CorreioError, UnavailableError } from '@correio/codec';
import type { CallContext } from '../context.js';
import { toMillis, type Duration } from '../duration.js';
import type { AnyContextMiddleware } from './Middleware.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Failures within `window` that open the circuit. Defaults to 5. */
  readonly threshold?: number;
  /** The sliding window failures are counted in. Defaults to 10s. */
  readonly window?: Duration;
  /** How long the circuit stays open before it lets a trial call through. Defaults to 5s. */
  readonly coolDown?: Duration;
  /** Concurrent trial calls while half-open. Defaults to 1. */
  readonly halfOpenCalls?: number;
  /**
   * Which errors count as failures of the callee. Defaults to retryable ones (TIMEOUT, UNAVAILABLE,
   * OVERLOADED, INTERNAL): a VALIDATION or NOT_FOUND says the callee is healthy and the caller wrong.
   */
  readonly isFailure?: (error: CorreioError) => boolean;
  /** One circuit per key; defaults to the action name. */
  readonly key?: (ctx: CallContext) => string;
  /** Told about every state change. */
  readonly onStateChange?: (key: string, from: CircuitState, to: CircuitState) => void;
  /** The clock, for tests. Defaults to Date.now. */
  readonly now?: () => number;
}

export interface CircuitSnapshot {
  readonly state: CircuitState;
  /** Failures inside the current window. */
  readonly failures: number;
  /** When an open circuit lets a trial call through (ms since the epoch). */
  readonly retryAt: number | undefined;
}

interface Settings {
  readonly threshold: number;
  readonly windowMs: number;
  readonly coolDownMs: number;
  readonly halfOpenCalls: number;
  readonly now: () => number;
}

/** Permission for one call; a trial permit is one of the few calls let through while half-open. */
export interface CircuitPermit {
  readonly trial: boolean;
}

const NORMAL: CircuitPermit = Object.freeze({ trial: false });
const TRIAL: CircuitPermit = Object.freeze({ trial: true });

/** One circuit: a pure state machine driven by `tryAcquire()` and `record()`. */
export class Circuit {
  #state: CircuitState = 'closed';
  /** Failure times inside the window, oldest first; never longer than the threshold. */
  #failures: number[] = [];
  #openedAt = 0;
  #trials = 0;

  constructor(
    private readonly settings: Settings,
    private readonly onChange: (from: CircuitState, to: CircuitState) => void = () => undefined,
  ) {}

  get state(): CircuitState {
    return this.#state;
  }

  /** A permit when a call may go through now, undefined when the circuit refuses it. */
  tryAcquire(): CircuitPermit | undefined {
    if (this.#state === 'open') {
      if (this.settings.now() - this.#openedAt < this.settings.coolDownMs) return undefined;
      this.#moveTo('half-open');
    }
    if (this.#state === 'half-open') {
      if (this.#trials >= this.settings.halfOpenCalls) return undefined;
      this.#trials++;
      return TRIAL;
    }
    return NORMAL;
  }

  /** Records the outcome of a permitted call. */
  record(permit: CircuitPermit, failed: boolean): void {
    const now = this.settings.now();
    if (permit.trial) {
      if (this.#state !== 'half-open') return;
      this.#trials = Math.max(0, this.#trials - 1);
      if (failed) this.#open(now);
      else {
        this.#failures = [];
        this.#moveTo('closed');
      }
      return;
    }
    // Late results of calls that started before the circuit opened change nothing.
    if (!failed || this.#state !== 'closed') return;
    this.#failures.push(now);
    const windowStart = now - this.settings.windowMs;
    while (this.#failures.length > 0 && this.#failures[0]! <= windowStart) this.#failures.shift();
    if (this.#failures.length > this.settings.threshold) this.#failures.shift();
    if (this.#failures.length >= this.settings.threshold) this.#open(now);
  }

  /** Gives back a permit whose call says nothing about the callee (the caller gave up). */
  release(permit: CircuitPermit): void {
    if (permit.trial && this.#state === 'half-open') this.#trials = Math.max(0, this.#trials - 1);
  }

  snapshot(): CircuitSnapshot {
    const now = this.settings.now();
    const failures = this.#failures.filter((at) => at > now - this.settings.windowMs).length;
    return { state: this.#state, failures, retryAt: this.#state === 'open' ? this.#openedAt + this.settings.coolDownMs : undefined };
  }

  #open(now: number): void {
    this.#openedAt = now;
    this.#trials = 0;
    this.#failures = [];
    this.#moveTo('open');
  }

  #moveTo(state: CircuitState): void {
    if (state === this.#state) return;
    const from = this.#state;
    this.#state = state;
    this.onChange(from, state);
  }
}

/** A circuit-breaker middleware, with a view of its circuits for health reports. */
export interface CircuitBreakerMiddleware extends AnyContextMiddleware {
  /** Every circuit this middleware has opened or closed, by key. */
  circuits(): Record<string, CircuitSnapshot>;
}

const isRetryableFailure = (error: CorreioError) => error.retryable;

/**
 * Stops calling a failing callee: after `threshold` failures within `window` the circuit opens and
 * calls fail at once with UNAVAILABLE (data.circuit = 'open', data.retryAfter in ms); after
 * `coolDown` one trial call goes through (half-open); its success closes the circuit, its failure
 * opens it again.
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerMiddleware {
  const settings: Settings = {
    threshold: options.threshold ?? 5,
    windowMs: toMillis(options.window ?? 10_000, 'circuitBreaker.window'),
    coolDownMs: toMillis(options.coolDown ?? 5_000, 'circuitBreaker.coolDown'),
    halfOpenCalls: options.halfOpenCalls ?? 1,
    now: options.now ?? Date.now,
  };
  if (!Number.isInteger(settings.threshold) || settings.threshold < 1) throw new RangeError('circuitBreaker.threshold must be a positive integer');
  if (!Number.isInteger(settings.halfOpenCalls) || settings.halfOpenCalls < 1) throw new RangeError('circuitBreaker.halfOpenCalls must be a positive integer');
  const isFailure = options.isFailure ?? isRetryableFailure;
  const keyOf = options.key ?? ((ctx: CallContext) => ctx.action);
  const circuits = new Map<string, Circuit>();
  const circuitFor = (key: string) => {
    let circuit = circuits.get(key);
    if (!circuit) {
      circuit = new Circuit(settings, (from, to) => options.onStateChange?.(key, from, to));
      circuits.set(key, circuit);
    }
    return circuit;
  };

  const middleware = (<C extends CallContext>(next: (ctx: C, params: unknown) => Promise<unknown>) =>
    async (ctx: C, params: unknown) => {
      const key = keyOf(ctx);
      const circuit = circuitFor(key);
      const permit = circuit.tryAcquire();
      if (!permit) {
        const { retryAt, state } = circuit.snapshot();
        const retryAfter = Math.max(0, (retryAt ?? settings.now()) - settings.now());
        throw new UnavailableError(
          state === 'open'
            ? `the circuit for ${key} is open after repeated failures; retry after ${retryAfter}ms`
            : `the circuit for ${key} is half-open and already testing the callee; retry shortly`,
          { data: { circuit: state, key, retryAfter } },
        );
      }
      try {
        const result = await next(ctx, params);
        circuit.record(permit, false);
        return result;
      } catch (thrown) {
        const error = CorreioError.from(thrown);
        // A call the caller itself gave up says nothing about the callee.
        if (ctx.signal.aborted && error.code !== 'TIMEOUT') circuit.release(permit);
        else circuit.record(permit, isFailure(error));
        throw error;
      }
    }) as CircuitBreakerMiddleware;
  middleware.circuits = () => Object.fromEntries([...circuits].map(([key, circuit]) => [key, circuit.snapshot()]));
  return middleware;
}
