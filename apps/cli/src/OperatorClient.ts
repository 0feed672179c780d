import { CorreioError } from '@correio/codec';
import type { BodyOf, MessageType } from '@correio/protocol';
import { RequestClient } from '@correio/transport';

/** How the CLI reaches the operators' services (configuration, logs) and who it acts as. */
export interface OperatorClientOptions {
  readonly broker: string;
  readonly timeout: number;
  /** An access token with the operator role; or `user` and `password` to log in for one. */
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
}

/** Requests to the operators' services: each goes to the broker service its type begins with. */
type OperatorRequest = Extract<MessageType, `config.${string}.request` | `logs.query.request`>;
type ReplyOf<T extends OperatorRequest> = BodyOf<T extends `${infer Base}.request` ? Extract<MessageType, `${Base}.reply`> : never>;

/**
 * The `config` and `logs` services as the CLI uses them: requests through the broker, with an
 * operator's token when a request needs one (logging in with --user/--password once, when no
 * --token is given).
 */
export class OperatorClient {
  readonly #client: RequestClient;
  readonly #options: OperatorClientOptions;
  #token: Promise<string> | undefined;

  constructor(options: OperatorClientOptions) {
    this.#options = options;
    this.#client = new RequestClient({ endpoint: options.broker, from: 'correio-cli', timeout: options.timeout });
  }

  /** A request; `operator`: it carries the operator's token. Throws the service's typed error. */
  async request<T extends OperatorRequest>(type: T, body: BodyOf<T>, operator = false, signal?: AbortSignal): Promise<ReplyOf<T>> {
    const auth = operator ? await this.#operatorToken() : undefined;
    const service = type.slice(0, type.indexOf('.'));
    const reply = await this.#client.request(service, type, body as never, { retries: 3, ...(auth === undefined ? {} : { auth }), ...(signal === undefined ? {} : { signal }) });
    if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
    return reply.body as ReplyOf<T>;
  }

  /** The token requests act with: --token, or one from logging in with --user and --password (any user, not only an operator). */
  userToken(): Promise<string> {
    return this.#operatorToken();
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  #operatorToken(): Promise<string> {
    this.#token ??= this.#login();
    return this.#token;
  }

  async #login(): Promise<string> {
    const { token, user, password } = this.#options;
    if (token !== undefined) return token;
    if (user === undefined || password === undefined) {
      throw new Error("this needs an operator: give --token (CORREIO_TOKEN), or --user and --password (CORREIO_USER, CORREIO_PASSWORD) of a user on the servers' --operators list");
    }
    const reply = await this.#client.request('chat', 'chat.login.request', { user, password }, { retries: 2 });
    if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
    const issued = (reply.body as BodyOf<'chat.login.reply'>).token;
    if (issued === undefined) throw new Error(`the server issued ${user} no token`);
    return issued;
  }
}

/** A typed error as the person at the terminal needs it: VALIDATION lists each field. */
export function explainServiceError(error: unknown): string {
  if (!(error instanceof CorreioError)) return error instanceof Error ? error.message : String(error);
  const problems = (error.data as { problems?: Array<{ field: string; message: string }> } | undefined)?.problems;
  if (error.code === 'VALIDATION' && problems) return `the document was refused:\n${problems.map((problem) => `  ${problem.field || '(document)'}: ${problem.message}`).join('\n')}`;
  return `${error.code}: ${error.message}`;
}
