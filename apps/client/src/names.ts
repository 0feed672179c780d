// Name rules of protocol/schemas/v1/defs.json, checked locally so a typo gets a clear message
// instead of a schema validation error from the codec.

const USER_NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Longest message text, in code points (defs.json `text`). */
export const MAX_TEXT_CODE_POINTS = 4000;

export function isUserName(name: string): boolean {
  return USER_NAME.test(name);
}

export function isChannelName(name: string): boolean {
  return CHANNEL_NAME.test(name);
}

/** Why `name` is not a valid user name, or undefined when it is. */
export function userNameProblem(name: string): string | undefined {
  if (isUserName(name)) return undefined;
  return `${JSON.stringify(name)} is not a valid user name: 1 to 32 letters, digits, '_', '.' or '-'`;
}

/** Why `name` is not a valid channel name, or undefined when it is. */
export function channelNameProblem(name: string): string | undefined {
  if (isChannelName(name)) return undefined;
  return `${JSON.stringify(name)} is not a valid channel name: 1 to 64 letters, digits, '_', '.' or '-'`;
}

/** Why `text` cannot be sent, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (text.length === 0) return 'a message cannot be empty';
  let codePoints = 0;
  for (const _ of text) codePoints += 1;
  if (codePoints > MAX_TEXT_CODE_POINTS) return `a message is at most ${MAX_TEXT_CODE_POINTS} characters (this one has ${codePoints})`;
  return undefined;
}

/** Shortest and longest password, in code points (defs.json `password`). */
export const PASSWORD_CODE_POINTS = { min: 8, max: 1024 } as const;

/** Why `password` cannot be used, or undefined when it can. Never quotes the password. */
export function passwordProblem(password: string): string | undefined {
  const codePoints = [...password].length;
  if (codePoints < PASSWORD_CODE_POINTS.min) return `a password has at least ${PASSWORD_CODE_POINTS.min} characters (this one has ${codePoints})`;
  if (codePoints > PASSWORD_CODE_POINTS.max) return `a password has at most ${PASSWORD_CODE_POINTS.max} characters (this one has ${codePoints})`;
  return undefined;
}
