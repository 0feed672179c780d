import type { Logger } from '@correio/observability';
import type { Service } from '@correio/service';

export interface StartupNoticeOptions {
  /** When the first notice is logged, if the start has not finished by then. Default 2 s. */
  readonly firstMs?: number;
  /** Then how often. Default 10 s. */
  readonly everyMs?: number;
}

/**
 * Resolves with `starting` and, while it is pending, logs (warn, the default level) what the
 * start waits for and where: once after `firstMs`, then every `everyMs`. Without it a server with
 * no broker to talk to says nothing until its start times out.
 */
export async function noticeWhileStarting<T>(starting: Promise<T>, service: Service, where: { readonly broker: string; readonly proxyPub: string; readonly proxySub: string }, logger: Logger, options: StartupNoticeOptions = {}): Promise<T> {
  const began = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const notice = (): void => {
    const waitedMs = Date.now() - began;
    if (!service.client.transport.connected) {
      logger.warn({ broker: where.broker, waitedMs }, `waiting for the broker at ${where.broker}: is it running? npx correio broker --endpoint ${where.broker}`);
    } else {
      logger.warn(
        { broker: where.broker, proxy: where, waitedMs },
        `connected to the broker at ${where.broker}; waiting for it to list this server's services and for the proxy at ${where.proxyPub} (publishers) and ${where.proxySub} (subscribers) ` +
          `to carry its announcement: is the proxy running? npx correio proxy --publishers ${where.proxyPub} --subscribers ${where.proxySub}`,
      );
    }
    timer = setTimeout(notice, options.everyMs ?? 10_000);
  };
  timer = setTimeout(notice, options.firstMs ?? 2_000);
  try {
    return await starting;
  } finally {
    clearTimeout(timer);
  }
}
