import { BadRequestError } from '@correio/codec';
import { CronExpressionParser } from 'cron-parser';

/** BAD_REQUEST naming the problem when `cron` does not parse (five fields, or six with seconds). */
export function checkCron(cron: string): void {
  try {
    CronExpressionParser.parse(cron, { tz: 'UTC' });
  } catch (error) {
    throw new BadRequestError(`the cron expression ${JSON.stringify(cron)} does not parse: ${(error as Error).message}`, { data: { cron, reason: 'bad_cron' } });
  }
}

/** The newest tick at or before `now` (undefined when the expression has none, such as 30 February). */
export function latestTick(cron: string, now: number): number | undefined {
  const expression = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: now + 1 });
  return expression.hasPrev() ? expression.prev().getTime() : undefined;
}

/** The first tick after `after`. */
export function nextTick(cron: string, after: number): number | undefined {
  const expression = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: after });
  return expression.hasNext() ? expression.next().getTime() : undefined;
}
