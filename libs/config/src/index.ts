export { CONFIG_PROGRAMS, configSchema, isConfigProgram, type ConfigProgram } from './schema.js';
export { explainErrors, type SettingProblem } from './explainErrors.js';
export { checkDocument, compileConfigValidator, MAX_DOCUMENT_LENGTH, type Settings, type DocumentCheck, type DocumentProblem } from './checkDocument.js';
export { effectiveSettings, parseSettings } from './effective.js';
export { registerLiveSetting, liveSettingKeys, applyChanges, changedKeys, type LiveSetter, type AppliedChange } from './liveSettings.js';
export { ConfigFollower, type ConfigFollowerOptions, type FetchedConfig } from './ConfigFollower.js';
