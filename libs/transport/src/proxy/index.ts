export { PubSubProxy, type ProxyMode, type ProxyObserver, type ProxySide, type ProxySnapshot, type ProxyUpstream, type PubSubProxyOptions } from './PubSubProxy.js';
export { type SubscriptionRefusal } from './SubscriptionTable.js';
export type { ConnectionRefusal } from '../zmtp/ZmtpConnection.js';
export { MAX_SUBSCRIPTION_MESSAGE_BYTES, DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION } from './subscriptionLimits.js';
