// The correio command line, for tests and for tools that drive it.
export { runCli, takeConfigFlag, CONFIG_ENV } from './cli.js';
export { PROGRAMS, PROGRAM_NAMES, SECTION_NAMES, sectionCommand, type Program, type ProgramName, type SectionName } from './programs.js';
export { programEntry } from './runProgram.js';
export { loadConfig, parseConfig, type CorreioConfig, type SectionValues } from './config/loadConfig.js';
export { configSchema } from '@correio/config';
export { ConfigError, type ConfigProblem } from './config/ConfigError.js';
export { sectionSettings, environmentOf, type SectionSettings } from './config/sectionSettings.js';
export { Topology, HTTP_PORT_OFFSETS, type TopologySettings, type Wiring } from './up/Topology.js';
export { upCommand, UP_DEFAULTS } from './up/upCommand.js';
export { runUp, type UpSettings, type UpOptions } from './up/runUp.js';
export { figures, renderFigures, replicationLagOf, clockSpreadOf, type Figures, type Sample, type ComponentSample } from './up/Summary.js';
export { RestartPolicy, type RestartPolicyOptions } from './up/RestartPolicy.js';
export { formatLogLine } from './up/formatLogLine.js';
export { LogPrinter, type ColorMode, type LogPrinterOptions } from './up/LogPrinter.js';
export { parseReadiness, type Readiness } from './up/readiness.js';
export { CONFIG_SERVICE_ENV, CONFIG_EVENTS_ENV } from './config/centralSettings.js';
export { LOG_SERVICE_ENV } from '@correio/logs';
