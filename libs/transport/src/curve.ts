import { readFileSync } from 'node:fs';
import * as zmq from 'zeromq';
import { isZ85Key } from './z85.js';

/**
 * CURVE security for one socket. A server holds its secret key (clients must know its public key);
 * a client holds its own key pair and the server's public key. Keys are 40-character Z85 strings.
 */
export type CurveOptions = CurveServerOptions | CurveClientOptions;

export interface CurveServerOptions {
  readonly server: true;
  readonly secretKey: string;
  readonly publicKey?: string;
  /** The ZAP domain the socket's handshakes are authenticated in; see ZapAuthenticator. */
  readonly zapDomain?: string;
}

export interface CurveClientOptions {
  readonly server?: false;
  /** The public key of the server this socket connects to. */
  readonly serverKey: string;
  readonly publicKey: string;
  readonly secretKey: string;
}

export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

/** A fresh CURVE key pair. */
export function generateCurveKeyPair(): CurveKeyPair {
  return zmq.curveKeyPair();
}

/** Where one key comes from: inline Z85 text, a file holding it, or an environment variable. */
export type KeySource = string | { readonly file: string } | { readonly env: string };

export interface CurveKeySources {
  readonly publicKey?: KeySource;
  readonly secretKey?: KeySource;
  readonly serverKey?: KeySource;
  /**
   * A ZeroMQ certificate file (the `zcert` format: `public-key = "..."`, `secret-key = "..."`)
   * supplying publicKey and secretKey; explicit sources win over it.
   */
  readonly certificateFile?: string;
  /** Where `{ env }` sources are looked up; defaults to process.env. */
  readonly environment?: NodeJS.ProcessEnv;
}

export interface LoadedCurveKeys {
  readonly publicKey?: string;
  readonly secretKey?: string;
  readonly serverKey?: string;
}

/**
 * Loads Z85 CURVE keys from files, environment variables or inline text, and validates each
 * one, so a mistyped key fails at startup with a clear message instead of as a silent handshake
 * failure later. A key file holds the 40 characters, optionally surrounded by whitespace.
 */
export function loadCurveKeys(sources: CurveKeySources): LoadedCurveKeys {
  const environment = sources.environment ?? process.env;
  const certificate = sources.certificateFile === undefined ? {} : readCertificate(sources.certificateFile);
  const keys: { publicKey?: string; secretKey?: string; serverKey?: string } = {};
  for (const name of ['publicKey', 'secretKey', 'serverKey'] as const) {
    const source = sources[name];
    const key = source === undefined ? certificate[name as keyof typeof certificate] : readKey(name, source, environment);
    if (key !== undefined) keys[name] = key;
  }
  return keys;
}

function readKey(name: string, source: KeySource, environment: NodeJS.ProcessEnv): string {
  let text: string | undefined;
  let origin: string;
  if (typeof source === 'string') {
    text = source;
    origin = 'inline text';
  } else if ('file' in source) {
    text = readFileSync(source.file, 'utf8');
    origin = `file ${source.file}`;
  } else {
    text = environment[source.env];
    origin = `environment variable ${source.env}`;
    if (text === undefined) throw new Error(`CURVE ${name}: ${origin} is not set`);
  }
  const key = text.trim();
  if (!isZ85Key(key)) throw new Error(`CURVE ${name} from ${origin} is not a 40-character Z85 key`);
  return key;
}

function readCertificate(file: string): { publicKey?: string; secretKey?: string } {
  const text = readFileSync(file, 'utf8');
  const field = (name: string): string | undefined => {
    const match = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`, 'm').exec(text);
    if (!match) return undefined;
    if (!isZ85Key(match[1])) throw new Error(`CURVE certificate ${file}: ${name} is not a 40-character Z85 key`);
    return match[1];
  };
  const publicKey = field('public-key');
  const secretKey = field('secret-key');
  if (publicKey === undefined && secretKey === undefined) throw new Error(`CURVE certificate ${file} holds no public-key or secret-key`);
  return { ...(publicKey ? { publicKey } : {}), ...(secretKey ? { secretKey } : {}) };
}

/** The zeromq.js socket options that turn CURVE on, validated. */
export function curveSocketOptions(curve: CurveOptions): Record<string, unknown> {
  const check = (name: string, key: string | undefined): void => {
    if (!isZ85Key(key)) throw new Error(`CURVE ${name} must be a 40-character Z85 key`);
  };
  if (curve.server) {
    check('secretKey', curve.secretKey);
    if (curve.publicKey !== undefined) check('publicKey', curve.publicKey);
    return {
      curveServer: true,
      curveSecretKey: curve.secretKey,
      ...(curve.publicKey ? { curvePublicKey: curve.publicKey } : {}),
      ...(curve.zapDomain ? { zapDomain: curve.zapDomain } : {}),
    };
  }
  check('serverKey', curve.serverKey);
  check('publicKey', curve.publicKey);
  check('secretKey', curve.secretKey);
  return { curveServerKey: curve.serverKey, curvePublicKey: curve.publicKey, curveSecretKey: curve.secretKey };
}
