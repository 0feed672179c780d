import { describe, expect, it } from 'vitest';
import { announceTopic, brokerServiceName, eventTopic, splitAction } from '@correio/service';

describe('names', () => {
  it('splits an action at its last dot and maps it to the broker service svc.<service>', () => {
    expect(splitAction('greeter.hello')).toEqual({ service: 'greeter', method: 'hello' });
    expect(splitAction('billing.invoices.create')).toEqual({ service: 'billing.invoices', method: 'create' });
    expect(brokerServiceName('billing.invoices')).toBe('svc.billing.invoices');
    expect(eventTopic('user.joined')).toBe('svc/user.joined/');
    expect(announceTopic('greeter')).toBe('announce/greeter/');
  });

  it('rejects an action name without a service as BAD_REQUEST', () => {
    expect(() => splitAction('hello')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => splitAction('Greeter.hello')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
