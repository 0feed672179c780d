export { PubSubProxy, type ProxyMode, type ProxyObserver, type ProxySide, type ProxySnapshot, type ProxyUpstream, type PubSubProxyOptions } from './PubSubProxy.js';
export { type SubscriptionRefusal } from './SubscriptionTable.js';
export { MAX_SUBSCRIPTION_MESSAGE_BYTES, DEFAULT_MAX_SUBSCRIPTIONS } from './subscriptionLimits.js';
