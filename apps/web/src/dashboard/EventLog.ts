// The timeline's events, newest first, bounded, each once: a reconnected socket's first snapshot
// repeats the gateway's recent events, which must not show twice.
import type { DashboardEvent } from '@correio/protocol';
import { UniqueWindow } from './UniqueWindow.js';

const MAX_EVENTS = 200;

const keyOf = (event: DashboardEvent) => `${event.at}|${event.kind}|${event.node ?? ''}|${event.state ?? ''}|${event.term ?? ''}|${event.text}`;

export const newEventLog = () => new UniqueWindow<DashboardEvent>(keyOf, (a, b) => b.at - a.at, MAX_EVENTS);
