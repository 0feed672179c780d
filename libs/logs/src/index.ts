export { LogShipper, type LogShipperOptions, type LogShipperStats } from './LogShipper.js';
export { toLogLine, levelName, LEVEL_NUMBERS, type LevelName } from './logLine.js';
export { shipLogsFromEnvironment, LOG_SERVICE_ENV } from './shipLogsFromEnvironment.js';
