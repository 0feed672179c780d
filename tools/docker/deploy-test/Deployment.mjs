// One compose project of tools/docker/compose.yaml under test: its containers, their health, the
// published ports. The compose file is used as it is, but for its published ports, which move to
// free ports on 127.0.0.1 (the test must not take 5555 or 8080 from anything else on the machine).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, waitFor } from '@correio/testing';
import { runCommand } from './engine.mjs';

export class Deployment {
  /** service → { target port → published port on 127.0.0.1 } */
  ports = new Map();

  constructor({ compose, composeFile, project, image, workDir }) {
    this.compose = compose;
    this.sourceFile = composeFile;
    this.project = project;
    this.image = image;
    this.file = join(workDir, 'compose.yaml');
  }

  /** Writes the compose file with every published port moved to a free port on 127.0.0.1. */
  async prepare() {
    const document = parse(readFileSync(this.sourceFile, 'utf8'), { merge: true });
    for (const [name, service] of Object.entries(document.services)) {
      if (!service.ports) continue;
      const published = new Map();
      for (const port of service.ports) published.set(port.target, await freePort());
      service.ports = [...published].map(([target, host]) => `127.0.0.1:${host}:${target}`);
      this.ports.set(name, published);
    }
    // Anchors were merged by parse: write plain YAML.
    writeFileSync(this.file, stringify(document, { aliasDuplicateObjects: false }));
  }

  port(service, target) {
    const port = this.ports.get(service)?.get(target);
    if (port === undefined) throw new Error(`${service} publishes no port ${target}`);
    return port;
  }

  composeRun(args, timeoutMs = 600_000) {
    const [command, ...prefix] = this.compose;
    return runCommand(command, [...prefix, '-p', this.project, '-f', this.file, ...args], { timeoutMs, env: { CORREIO_IMAGE: this.image } });
  }

  /** Every container of the project: service, id, state, health, restarts, exit code. */
  async containers() {
    const ids = (await runCommand('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${this.project}`])).split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    const inspected = JSON.parse(await runCommand('docker', ['inspect', ...ids]));
    return inspected.map((container) => ({
      service: container.Config.Labels['com.docker.compose.service'],
      id: container.Id,
      pid: container.State.Pid,
      status: container.State.Status,
      health: container.State.Health?.Status,
      restarts: container.RestartCount,
      exitCode: container.State.ExitCode,
      restartPolicy: container.HostConfig.RestartPolicy?.Name,
      volumes: container.Mounts.filter((mount) => mount.Type === 'volume').map((mount) => mount.Name),
    }));
  }

  async container(service) {
    const found = (await this.containers()).find((container) => container.service === service);
    if (!found) throw new Error(`no container for service ${service}`);
    return found;
  }

  /**
   * Waits until every service of the file has a running container, healthy where it has a
   * healthcheck. Fails early on a crash loop, naming the service and its last log lines.
   */
  async waitReady(timeoutMs) {
    const services = Object.keys(parse(readFileSync(this.file, 'utf8')).services);
    let last = [];
    try {
      return await waitFor(
        async () => {
          last = await this.containers();
          for (const container of last) {
            if (container.restarts >= 3) throw new Error(`${container.service} is crash-looping (${container.restarts} restarts):\n${await this.logs(container.service, 20)}`);
          }
          const ready = services.filter((service) => {
            const container = last.find((c) => c.service === service);
            return container?.status === 'running' && (container.health === undefined || container.health === 'healthy');
          });
          return ready.length === services.length && last;
        },
        `${services.length} services running and healthy`,
        timeoutMs,
        1_000,
      );
    } catch (error) {
      const states = last.map((c) => `${c.service}: ${c.status}${c.health ? `/${c.health}` : ''}, ${c.restarts} restarts`).join('; ');
      throw new Error(`${error.message} (${states || 'no containers'})`);
    }
  }

  async waitHealthy(service, timeoutMs) {
    return waitFor(
      async () => {
        const container = await this.container(service);
        return container.status === 'running' && (container.health ?? 'healthy') === 'healthy' && container;
      },
      `${service} healthy`,
      timeoutMs,
      500,
    );
  }

  async logs(service, lines) {
    const container = await this.container(service);
    // docker logs replays the container's stderr on its own stderr.
    return runCommand('docker', ['logs', '--tail', String(lines), container.id], { withStderr: true });
  }

  /**
   * The anonymous volumes of the project's containers: the image's VOLUME where a service mounts no
   * named volume there. `down` without -v leaves them behind, unnamed; clean-up removes them by id.
   */
  async anonymousVolumes() {
    return (await this.containers()).flatMap((container) => container.volumes).filter((name) => !name.startsWith(`${this.project}_`));
  }

  async volumes() {
    return (await runCommand('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${this.project}`])).split('\n').filter(Boolean).sort();
  }
}
