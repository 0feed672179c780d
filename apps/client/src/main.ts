#!/usr/bin/env node
// correio-client: the interactive chat client, its --json mode, and `bot`.
import { runMain } from '@correio/observability';
import { clientCommand } from './cli.js';
import { runBotCommand } from './runBotCommand.js';
import { runChat } from './runChat.js';

runMain('correio-client', async () => {
  let status = 0;
  await clientCommand({ interactive: runChat, bot: runBotCommand }, (code) => (status = code)).parseAsync(process.argv);
  // Every socket is closed by now; exit rather than wait on anything a dependency left behind.
  process.exit(status);
});
