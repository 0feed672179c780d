// Where a server opens its direct endpoint for peers (revision 1.8): the defaults and the flags.
import { describe, expect, it } from 'vitest';
import { parseServerCommandLine, serverCommand } from '@correio/server';
import { defaultPeerLink } from '../src/cluster/peerLink.js';

const argv = (...flags: string[]): string[] => ['node', 'correio-server', '--id', 's1', '--data-dir', '/tmp/unused', ...flags];

describe('the direct endpoint for peers', () => {
  it('opens a free loopback port by default only when the broker is on this machine, without CURVE, with the reference server', () => {
    expect(defaultPeerLink({ broker: 'tcp://127.0.0.1:5555', curve: false, ref: true })).toEqual({ bind: 'tcp://127.0.0.1:0' });
    expect(defaultPeerLink({ broker: 'tcp://localhost:5555', curve: false, ref: true })).toEqual({ bind: 'tcp://127.0.0.1:0' });
    expect(defaultPeerLink({ broker: 'ipc:///run/correio/broker', curve: false, ref: true })).toEqual({ bind: 'tcp://127.0.0.1:0' });
    // A broker elsewhere: a loopback address would name the wrong machine to the peers.
    expect(defaultPeerLink({ broker: 'tcp://10.0.0.5:5555', curve: false, ref: true })).toBeUndefined();
    expect(defaultPeerLink({ broker: 'tcp://127.0.0.1.example.org:5555', curve: false, ref: true })).toBeUndefined();
    expect(defaultPeerLink({ broker: 'tcp://127.0.0.1:5555', curve: true, ref: true })).toBeUndefined();
    expect(defaultPeerLink({ broker: 'tcp://127.0.0.1:5555', curve: false, ref: false })).toBeUndefined();
  });

  it('takes --peer-bind, --peer-endpoint and --peer-bind off from the command line', () => {
    expect(parseServerCommandLine(argv()).options.peerLink).toBeUndefined();
    expect(parseServerCommandLine(argv('--peer-bind', 'off')).options.peerLink).toBe(false);
    expect(parseServerCommandLine(argv('--peer-bind', 'tcp://0.0.0.0:5601', '--peer-endpoint', 'tcp://s1.example:5601')).options.peerLink).toEqual({
      bind: 'tcp://0.0.0.0:5601',
      advertise: 'tcp://s1.example:5601',
    });
    const command = serverCommand().exitOverride().configureOutput({ writeErr: () => undefined });
    expect(() => parseServerCommandLine(argv('--peer-endpoint', 'tcp://s1.example:5601'), command)).toThrow(/--peer-endpoint needs --peer-bind/);
    expect(() => parseServerCommandLine(argv('--peer-bind', 'not an endpoint'), serverCommand().exitOverride().configureOutput({ writeErr: () => undefined }))).toThrow();
  });
});
