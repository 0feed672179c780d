// The chat client's building blocks, for the terminal UI, the bot, and other apps' tests.
export {
  ChatClient,
  type ChatClientOptions,
  type ChatClientEventMap,
  type ChatClientStats,
  type CallOptions,
  type LoginOptions,
  type PageOptions,
  type ChannelInfo,
  type UserInfo,
  type ReceivedPublication,
  type ReceivedDirect,
  type ReceiveGap,
} from './ChatClient.js';
export type { IssuedTokens } from './AuthTokens.js';
export { ChatSession, type ChatSessionOptions, type PasswordChange } from './ChatSession.js';
export type { SessionEvent, SessionEventName, StampedSessionEvent } from './SessionEvent.js';
export { parseCommandLine, COMMANDS, type Command, type CommandName, type ParsedLine, type CommandHelp } from './commands.js';
export { describeFailure, brokerDownMessage, proxyDownMessage, type Endpoints } from './failures.js';
export { runBot, BotSetupError, MAX_BOT_USERS, type BotOptions, type BotProgress } from './bot/runBot.js';
export { formatReport, type BotReport, type SentStats, type ReceivedStats } from './bot/BotReport.js';
export { LatencyRecorder, type LatencySummary } from './bot/LatencyRecorder.js';
export { pace, type PaceOptions, type StopReason } from './bot/pace.js';
export { clientCommand, type InteractiveSettings, type BotSettings, type ConnectionSettings, type ClientActions } from './cli.js';
