import { CorreioError } from '@correio/codec';
import type { BodyOf, MessageType } from '@correio/protocol';
import { RequestClient } from '@correio/transport';

/** How the CLI reaches the configuration service and who it acts as. */
export interface ConfigServiceOptions {
  readonly broker: string;
  readonly timeout: number;
  /** An access token with the operator role; or `user` and `password` to log in for one. */
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
}

type ConfigRequest = Extract<MessageType, `config.${string}.request`>;
type ReplyOf<T extends ConfigRequest> = BodyOf<T extends `${infer Base}.request` ? Extract<MessageType, `${Base}.reply`> : never>;

/**
 * The `config` service as the CLI uses it: requests through the broker, with an operator's token
 * when a request needs one (logging in with --user/--password once, when no --token is given).
 */
export class ConfigServiceClient {
  readonly #client: RequestClient;
  readonly #options: ConfigServiceOptions;
  #token: Promise<string> | undefined;

  constructor(options: ConfigServiceOptions) {
    this.#options = options;
    this.#client = new RequestClient({ endpoint: options.broker, from: 'correio-config', timeout: options.timeout });
  }

  /** A request; `operator`: it carries the operator's token. Throws the service's typed error. */
  async request<T extends ConfigRequest>(type: T, body: BodyOf<T>, operator = false): Promise<ReplyOf<T>> {
    const auth = operator ? await this.#operatorToken() : undefined;
    const reply = await this.#client.request('config', type, body as never, { retries: 3, ...(auth === undefined ? {} : { auth }) });
    if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
    return reply.body as ReplyOf<T>;
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
