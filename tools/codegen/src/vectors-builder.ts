import { decode as msgpackDecode } from '@msgpack/msgpack';
import { emptySuite, sameValue, toHex, toJson, type V1Value, type VectorError, type VectorSuite } from './vectors-format.js';
import { referenceEncode } from './vectors-reference.js';

/**
 * Collects the cases of one vector file and checks each as it is added: descriptions are unique,
 * valid bytes are the reference encoding and decode back (with @msgpack/msgpack) to the value,
 * decode-only bytes really differ from the canonical encoding.
 */
export class SuiteBuilder {
  readonly suite: VectorSuite = emptySuite();
  readonly #descriptions = new Set<string>();
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  valid(description: string, value: V1Value): Uint8Array {
    this.#claim(description);
    toJson(value); // refuses values the file format cannot hold
    const bytes = referenceEncode(value);
    this.#expectDecodes(description, bytes, value);
    this.suite.valid.push({ description, value, bytes });
    return bytes;
  }

  decodeOnly(description: string, bytes: Uint8Array, value: V1Value): void {
    this.#claim(description);
    if (toHex(referenceEncode(value)) === toHex(bytes)) throw this.#fail(description, 'the bytes are canonical; make it a valid case');
    this.#expectDecodes(description, bytes, value);
    this.suite.decodeOnly.push({ description, value, bytes });
  }

  /** An invalid case from bytes alone (DECODE, TOO_LARGE, or anything the bytes carry). */
  invalidBytes(description: string, bytes: Uint8Array, error: VectorError): void {
    this.#claim(description);
    this.suite.invalid.push({ description, bytes, error });
  }

  /**
   * An invalid case from a value (schema-level errors). Its bytes are left out: they are the value's
   * canonical encoding, which any encoder that passes the valid cases produces.
   */
  invalidValue(description: string, value: V1Value, error: VectorError): void {
    this.#claim(description);
    toJson(value);
    referenceEncode(value); // must be encodable
    this.suite.invalid.push({ description, value, error });
  }

  has(description: string): boolean {
    return this.#descriptions.has(description);
  }

  #claim(description: string): void {
    if (this.#descriptions.has(description)) throw this.#fail(description, 'duplicate description');
    this.#descriptions.add(description);
  }

  #expectDecodes(description: string, bytes: Uint8Array, value: V1Value): void {
    const decoded = msgpackDecode(bytes, { useBigInt64: false }) as V1Value;
    if (!sameValue(decoded, value)) throw this.#fail(description, '@msgpack/msgpack decodes the bytes to a different value');
  }

  #fail(description: string, reason: string): Error {
    return new Error(`${this.#file}: "${description}": ${reason}`);
  }
}
