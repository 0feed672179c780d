import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_EVENTS_ENV, CONFIG_SERVICE_ENV, LOG_SERVICE_ENV, PROGRAM_NAMES, Topology, environmentOf, sectionCommand, type ProgramName, type SectionName } from '@correio/cli';

const COMPOSE_FILE = fileURLToPath(new URL('../../../tools/docker/compose.yaml', import.meta.url));

interface Service {
  command: string[];
  environment?: Record<string, string>;
  ports?: { target: number; published: number; protocol?: string; mode?: string }[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: string[];
  restart?: string;
  deploy?: Record<string, unknown>;
}

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { version: string; services: Record<string, Service>; volumes: Record<string, unknown> };
const services = Object.entries(compose.services);

/** The config section (the command line) a service's command runs. */
function sectionOf(service: Service): SectionName {
  const [program, sub] = service.command;
  expect(PROGRAM_NAMES).toContain(program);
  return program === 'client' && sub === 'bot' ? 'bot' : (program as ProgramName);
}

function portOf(endpoint: string): number {
  const match = /^tcp:\/\/([^:]+):(\d+)$/.exec(endpoint);
  if (!match) throw new Error(`not a tcp endpoint with a port: ${endpoint}`);
  return Number(match[2]);
}

/** The ports each service binds, from its own variables: what other services may connect to. */
const bound = new Map<string, Set<number>>(
  services.map(([name, service]) => {
    const env = service.environment ?? {};
    const binds = ['CORREIO_BROKER_ENDPOINT', 'CORREIO_PROXY_PUBLISHERS', 'CORREIO_PROXY_SUBSCRIBERS', 'CORREIO_SERVER_PEER_BIND'].filter((key) => key in env).map((key) => portOf(env[key]!));
    // The gateway's HTTP port is a plain port number, not an endpoint.
    if (env['CORREIO_GATEWAY_PORT'] !== undefined) binds.push(Number(env['CORREIO_GATEWAY_PORT']));
    return [name, new Set(binds)];
  }),
);

describe('tools/docker/compose.yaml', () => {
  it('mirrors the topology of `correio up`: ref, broker, proxy, three servers, the gateway, two bots', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['bot-1', 'bot-2', 'broker', 'gateway', 'proxy', 'ref', 'srv-1', 'srv-2', 'srv-3']);
    const topology = new Topology({ servers: 3, bots: 2, host: '127.0.0.1', freePorts: false, brokerPort: 5555, publishersPort: 5570, subscribersPort: 5571, gatewayPort: 8080, httpPortBase: 9100, dataDir: '/var/lib/correio' });
    for (const spec of topology.components) {
      const service = compose.services[spec.name];
      expect(service, spec.name).toBeDefined();
      expect(service!.command).toEqual([spec.program, ...spec.args]);
      const env = service!.environment ?? {};
      for (const [variable, value] of Object.entries(spec.env())) {
        if (variable === 'CORREIO_HTTP_HOST' || variable === 'CORREIO_GATEWAY_HOST') continue; // 127.0.0.1 on one machine, 0.0.0.0 in a container
        expect(env, `${spec.name}: ${variable}`).toHaveProperty(variable);
        // Same value, but for the host part of endpoints (service names, or * to bind every interface).
        const same = value.startsWith('tcp://') ? portOf(env[variable]!) === portOf(value) : env[variable] === value;
        expect(same, `${spec.name}: ${variable}=${env[variable]} (up uses ${value})`).toBe(true);
      }
    }
  });

  it.each(services)('%s is configured only through variables its program reads, with values it accepts', async (name, service) => {
    const section = sectionOf(service);
    // Besides the program's own variables, those `correio` reads for every program: where the configuration service is.
    const known = new Set([...environmentOf(sectionCommand(section)).values(), CONFIG_SERVICE_ENV, CONFIG_EVENTS_ENV, LOG_SERVICE_ENV]);
    const env = service.environment ?? {};
    for (const variable of Object.keys(env)) expect(known, `${name}: ${variable}`).toContain(variable);
    // Parse the program's own command line with exactly this environment.
    const saved = { ...process.env };
    for (const variable of Object.keys(process.env)) if (variable.startsWith('CORREIO_')) delete process.env[variable];
    Object.assign(process.env, env);
    try {
      const command = section === 'bot' ? sectionCommand('client') : sectionCommand(section);
      command.exitOverride();
      for (const sub of command.commands) sub.exitOverride();
      await command.parseAsync(['node', name, ...(section === 'bot' ? ['bot'] : [])]);
    } finally {
      for (const variable of Object.keys(process.env)) if (!(variable in saved)) delete process.env[variable];
      Object.assign(process.env, saved);
    }
  });

  it.each(services)('%s connects only to ports another service binds, and publishes only what it binds', (name, service) => {
    const env = service.environment ?? {};
    for (const [variable, value] of Object.entries(env)) {
      if (!value.startsWith('tcp://') || value.startsWith('tcp://*')) continue;
      const host = /^tcp:\/\/([^:]+):/.exec(value)![1]!;
      expect(compose.services, `${name}: ${variable} names service ${host}`).toHaveProperty(host);
      expect([...bound.get(host)!], `${name}: ${variable}=${value}`).toContain(portOf(value));
    }
    for (const port of service.ports ?? []) {
      expect([...bound.get(name)!], `${name} publishes ${port.target}`).toContain(port.target);
      expect(port.mode, 'ports are published in host mode (dnsrr services cannot use the ingress mesh)').toBe('host');
    }
  });

  it.each(services)('%s has a healthcheck on its /health port, or none when it has no HTTP port', (name, service) => {
    const env = service.environment ?? {};
    if (!('CORREIO_HTTP_PORT' in env)) {
      expect(service.healthcheck, name).toBeUndefined();
      return;
    }
    expect(env['CORREIO_HTTP_HOST'], `${name}: the side port must be reachable from the network`).toBe('0.0.0.0');
    const test = service.healthcheck!.test.join(' ');
    const url = /http:\/\/127\.0\.0\.1:(\d+)\/health/.exec(test);
    expect(url, `${name}: healthcheck ${test}`).not.toBeNull();
    expect(url![1]).toBe(env['CORREIO_HTTP_PORT']);
    expect(test).toMatch(/r\.ok \? 0 : 1/);
  });

  it('keeps every data directory on a named volume', () => {
    for (const [name, service] of services) {
      const dataDir = service.environment?.['CORREIO_REF_DATA_DIR'] ?? service.environment?.['CORREIO_SERVER_DATA_DIR'];
      if (!dataDir) continue;
      const mount = (service.volumes ?? []).find((volume) => volume.endsWith(`:${dataDir}`));
      expect(mount, `${name}: ${dataDir} on a volume`).toBeDefined();
      expect(compose.volumes).toHaveProperty(mount!.split(':')[0]!);
    }
  });

  it('is a file `docker stack deploy` accepts: version 3, nothing it refuses, restart policies for both', () => {
    expect(compose.version).toMatch(/^3\.\d+$/);
    for (const [name, service] of services) {
      expect(service, name).not.toHaveProperty('build');
      expect(service, name).not.toHaveProperty('container_name');
      // Every service runs as long as the deployment, restarted whenever it ends: by compose
      // (`restart`, which a swarm ignores) and by a swarm (`deploy.restart_policy`).
      expect(service.restart, name).toBe('unless-stopped');
      expect(service.deploy, name).toMatchObject({ restart_policy: { condition: 'any' }, endpoint_mode: 'dnsrr' });
      if (service.depends_on) expect(Array.isArray(service.depends_on), `${name}: depends_on as a list`).toBe(true);
    }
  });

  it('passes `docker stack config` (the swarm schema), where the docker CLI is installed', (context) => {
    let docker: string;
    try {
      docker = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
    } catch {
      context.skip('no docker CLI here: the swarm schema check is skipped');
      return;
    }
    // Older CLIs (Docker 20.10) have `stack config` without `--compose-file`: skip, naming the version.
    const help = spawnSync(docker, ['stack', 'config', '--help'], { encoding: 'utf8' });
    if (!`${help.stdout}${help.stderr}`.includes('--compose-file')) {
      const version = spawnSync(docker, ['--version'], { encoding: 'utf8' }).stdout.trim();
      context.skip(`${version || 'this docker CLI'} has no \`docker stack config --compose-file\`: the swarm schema check is skipped`);
      return;
    }
    const config = execFileSync(docker, ['stack', 'config', '-c', COMPOSE_FILE], { encoding: 'utf8', env: { ...process.env, CORREIO_IMAGE: 'registry.invalid/correio:test' } });
    expect(config).toContain('image: registry.invalid/correio:test');
    expect(config).toContain('endpoint_mode: dnsrr');
  });
});
