/** One sample of the Prometheus text exposition: a series name, its labels, its value. */
export interface MetricSample {
  readonly name: string;
  /** Null-prototype: a label named `__proto__` is an ordinary key. */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Samples kept from one exposition at most: far more than any Correio process exports. */
const MAX_SAMPLES = 50_000;
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * The samples of a Prometheus text exposition (format 0.0.4, what prom-client and every exporter
 * serve). Comments and lines that do not parse are skipped, not fatal: a process with one odd line
 * still shows its other numbers. (parse-prometheus-text-format, the npm parser, drops the labels of
 * histogram series, which the broker's per-service latency needs.)
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (samples.length >= MAX_SAMPLES) break;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const sample = parseLine(trimmed);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseLine(line: string): MetricSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let rest = line.slice(name.length).trimStart();
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest, labels);
    if (parsed === undefined) return undefined;
    rest = rest.slice(parsed);
  }
  // The value, then an optional timestamp, which a dashboard does not need.
  const [value] = rest.trim().split(/\s+/, 1);
  const number = parseValue(value ?? '');
  return number === undefined ? undefined : { name, labels, value: number };
}

/** Reads `{a="1",b="x\"y"}` into `labels`; returns the characters read, or undefined when malformed. */
function parseLabels(text: string, labels: Record<string, string>): number | undefined {
  let at = 1;
  for (;;) {
    while (text[at] === ' ' || text[at] === ',') at += 1;
    if (text[at] === '}') return at + 1;
    const name = LABEL_NAME.exec(text.slice(at, at + 200))?.[0];
    if (name === undefined) return undefined;
    at += name.length;
    while (text[at] === ' ') at += 1;
    if (text[at] !== '=') return undefined;
    at += 1;
    while (text[at] === ' ') at += 1;
    if (text[at] !== '"') return undefined;
    at += 1;
    let value = '';
    for (;;) {
      const char = text[at];
      if (char === undefined) return undefined;
      at += 1;
      if (char === '"') break;
      if (char !== '\\') {
        value += char;
        continue;
      }
      const escaped = text[at];
      at += 1;
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else return undefined;
    }
    labels[name] = value;
  }
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** The samples of one exposition, looked up by name. */
export class Metrics {
  readonly #byName = new Map<string, MetricSample[]>();

  constructor(samples: readonly MetricSample[]) {
    for (const sample of samples) {
      const list = this.#byName.get(sample.name);
      if (list) list.push(sample);
      else this.#byName.set(sample.name, [sample]);
    }
  }

  static parse(text: string): Metrics {
    return new Metrics(parsePrometheusText(text));
  }

  /** The samples of the first of `names` that is exported: Correio's processes prefix theirs with `correio_`, other peers may not. */
  series(...names: string[]): readonly MetricSample[] {
    for (const name of names) {
      const series = this.#byName.get(name);
      if (series) return series;
    }
    return [];
  }
}

/** The sum of the finite samples that `keep` accepts; undefined when there are none. */
export function total(series: readonly MetricSample[], keep: (labels: Readonly<Record<string, string>>) => boolean = () => true): number | undefined {
  let sum: number | undefined;
  for (const sample of series) if (keep(sample.labels) && Number.isFinite(sample.value)) sum = (sum ?? 0) + sample.value;
  return sum;
}
