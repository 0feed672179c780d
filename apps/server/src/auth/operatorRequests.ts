import { BadRequestError, ForbiddenError } from '@correio/codec';
import type { MessageContext } from '@correio/service';
import type { Authenticator } from './Authenticator.js';

const OPERATOR = 'operator';

/**
 * The verified operator a request acts for; FORBIDDEN `operators_only` for anyone else, saying
 * what needs the role (`needs`: "configuration changes and history need").
 */
export async function requireOperator(auth: Authenticator, ctx: MessageContext, needs: string): Promise<string> {
  const claims = await auth.tokenClaims(ctx.envelope.auth);
  if (!claims.roles.includes(OPERATOR)) {
    throw new ForbiddenError(`${claims.sub} is not an operator: ${needs} a token with the operator role (a server's --operators list)`, {
      data: { user: claims.sub, reason: 'operators_only' },
    });
  }
  return claims.sub;
}

/** BAD_REQUEST naming the broker service to use, unless the request came through one of `services`. */
export function requireServedOn(ctx: MessageContext, services: readonly string[]): void {
  if (!services.includes(ctx.via)) {
    throw new BadRequestError(`${ctx.type} is served on the broker service ${services[0]}, not on ${ctx.via}`, { data: { type: ctx.type, service: ctx.via } });
  }
}
