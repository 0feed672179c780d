export { startBroker, type RunningBroker, type StartBrokerOptions } from './startBroker.js';
export { brokerCommand, parseBrokerCommandLine, type BrokerCommandLine } from './cli.js';
