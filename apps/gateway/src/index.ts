export { startGateway, type RunningGateway, type StartGatewayOptions, type RateLimits } from './startGateway.js';
export { gatewayCommand, parseGatewayCommandLine, type GatewayCommandLine } from './cli.js';
export { CLOSE as STREAM_CLOSE_CODES } from './stream/closeCodes.js';
