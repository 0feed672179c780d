export { PubSubProxy, type ProxyMode, type ProxyObserver, type ProxySnapshot, type PubSubProxyOptions } from './PubSubProxy.js';
