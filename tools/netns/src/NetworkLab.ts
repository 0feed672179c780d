import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomInt } from 'node:crypto';

/** One emulated machine: a network namespace with one interface and one address. */
export interface LabHost {
  readonly name: string;
  /** The network namespace, for `ip netns exec`. */
  readonly namespace: string;
  /** Its only address (besides loopback), on the lab's /24. */
  readonly ip: string;
}

export interface NetworkLabOptions {
  /** Host names, in order; host i gets the address <subnet>.<i + 1>. */
  readonly hosts: readonly string[];
  /** Prefix of every namespace name; the pid is appended so concurrent runs never collide. Default `correio-lab`. */
  readonly prefix?: string;
}

/**
 * Several "machines" on one Linux box, for multi-host tests: each host is a network namespace
 * with a veth interface whose other end is plugged into a bridge living in a namespace of its
 * own — so the lab adds nothing to the host's own network (no device, no address, no route), and
 * its 10.x addresses exist only inside the namespaces it creates. `destroy()` deletes every
 * namespace, and with them every interface; it is safe to call more than once, and it runs at
 * process exit too, so a failing test leaves nothing behind.
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; `NetworkLab.unavailable()` says why not.
 */
export class NetworkLab {
  readonly hosts: readonly LabHost[];
  readonly #switch: string;
  readonly #namespaces: string[] = [];
  readonly #processes = new Set<ChildProcess>();
  #destroyed = false;
  readonly #onExit = () => this.destroy();

  private constructor(hosts: readonly LabHost[], switchNamespace: string) {
    this.hosts = hosts;
    this.#switch = switchNamespace;
  }

  /** Why a lab cannot be built here (not root, no `ip`, namespaces refused), or undefined when it can. */
  static unavailable(): string | undefined {
    if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
    const probe = `correio-probe-${process.pid}`;
    try {
      ip(['netns', 'add', probe]);
    } catch (error) {
      return `cannot create a network namespace: ${firstLine(error)}`;
    }
    try {
      ip(['-n', probe, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    } catch (error) {
      return `cannot create a veth pair in a namespace: ${firstLine(error)}`;
    } finally {
      ip(['netns', 'del', probe], true);
    }
    return undefined;
  }

  /** Builds the lab: a switch namespace with a bridge, and one namespace per host plugged into it. */
  static create(options: NetworkLabOptions): NetworkLab {
    const prefix = `${options.prefix ?? 'correio-lab'}-${process.pid}`;
    removeLeftovers(options.prefix ?? 'correio-lab');
    // A /24 of 10.x chosen at random: the addresses live only inside the lab's namespaces anyway.
    const subnet = `10.${randomInt(64, 250)}.${randomInt(1, 250)}`;
    const hosts = options.hosts.map((name, i) => ({ name, namespace: `${prefix}-${name}`, ip: `${subnet}.${i + 1}` }));
    const lab = new NetworkLab(hosts, `${prefix}-switch`);
    process.once('exit', lab.#onExit);
    try {
      lab.#addNamespace(lab.#switch);
      ip(['-n', lab.#switch, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', lab.#switch, 'link', 'set', 'br0', 'up']);
      hosts.forEach((host, i) => {
        lab.#addNamespace(host.namespace);
        // The veth is created inside the host's namespace with its peer straight in the switch's.
        ip(['-n', host.namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', lab.#switch]);
        ip(['-n', lab.#switch, 'link', 'set', `port${i}`, 'master', 'br0']);
        ip(['-n', lab.#switch, 'link', 'set', `port${i}`, 'up']);
        ip(['-n', host.namespace, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
        ip(['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
      });
    } catch (error) {
      lab.destroy();
      throw error;
    }
    return lab;
  }

  host(name: string): LabHost {
    const host = this.hosts.find((candidate) => candidate.name === name);
    if (!host) throw new Error(`no host ${name} in the lab (${this.hosts.map((h) => h.name).join(', ')})`);
    return host;
  }

  /** Starts a process on a host (`ip netns exec`: it execs, so the pid is the program's own). */
  spawn(hostName: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const host = this.host(hostName);
    const child = spawn('ip', ['netns', 'exec', host.namespace, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.#processes.add(child);
    child.once('exit', () => this.#processes.delete(child));
    return child;
  }

  /** Runs a command on a host to completion and returns its stdout. */
  run(hostName: string, command: string, args: readonly string[], timeoutMs = 30_000): string {
    return execFileSync('ip', ['netns', 'exec', this.host(hostName).namespace, command, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Kills what is still running in the lab and deletes every namespace. Idempotent; synchronous. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    process.off('exit', this.#onExit);
    for (const child of this.#processes) child.kill('SIGKILL');
    for (const namespace of [...this.#namespaces].reverse()) ip(['netns', 'del', namespace], true);
  }

  /** The namespaces the lab created and has not deleted yet (for checks that nothing is left). */
  static namespaces(prefix = 'correio-lab'): string[] {
    const listing = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    return listing
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter((name) => name.startsWith(`${prefix}-`));
  }

  #addNamespace(namespace: string): void {
    ip(['netns', 'add', namespace]);
    this.#namespaces.push(namespace);
    ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
  }
}

function ip(args: readonly string[], quiet = false): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (error) {
    if (!quiet) throw new Error(`ip ${args.join(' ')}: ${firstLine(error)}`);
  }
}

/** Namespaces left by a lab whose process died without cleaning up (kill -9). */
function removeLeftovers(prefix: string): void {
  for (const namespace of NetworkLab.namespaces(prefix)) {
    const pid = Number(/^.*?-(\d+)-/.exec(namespace.slice(prefix.length))?.[1]);
    if (!Number.isInteger(pid) || isAlive(pid)) continue;
    ip(['netns', 'del', namespace], true);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: Buffer | string }).stderr;
  const text = stderr && String(stderr).trim() ? String(stderr) : error instanceof Error ? error.message : String(error);
  return text.trim().split('\n', 1)[0]!;
}
