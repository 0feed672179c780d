export { startProxy, type RunningProxy, type StartProxyOptions } from './startProxy.js';
export { proxyCommand, parseProxyCommandLine, type ProxyCommandLine } from './cli.js';
