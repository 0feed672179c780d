export interface FetchLimits {
  /** The whole exchange, connect to last byte. */
  readonly timeoutMs: number;
  /** A larger body is abandoned (the process is shown, its numbers are not). */
  readonly maxBytes: number;
}

export interface FetchedText {
  readonly status: number;
  readonly text: string;
}

/**
 * GET `url` as text within `limits`: a process that hangs or answers without end costs the
 * dashboard one bounded wait, never a stuck gather. Redirects are refused (a monitoring URL names
 * the process itself). Rejects on a network error, a time-out or an oversized body.
 */
export async function fetchBounded(url: string, limits: FetchLimits): Promise<FetchedText> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const response = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json, text/plain' } });
  const declared = Number(response.headers.get('content-length'));
  if (declared > limits.maxBytes) {
    await response.body?.cancel();
    throw new RangeError(`${url} answered ${declared} bytes, more than ${limits.maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > limits.maxBytes) {
        // Leaving the loop cancels the stream, which closes the connection.
        throw new RangeError(`${url} answered more than ${limits.maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
  }
  return { status: response.status, text: Buffer.concat(chunks).toString('utf8') };
}
