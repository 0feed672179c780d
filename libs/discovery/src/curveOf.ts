import type { CurveOptions } from '@correio/transport';

/** The socket option that turns CURVE on, when keys were given (spread into a socket's options). */
export function curveOf(options: { readonly curve?: CurveOptions }): { readonly curve?: CurveOptions } {
  return options.curve ? { curve: options.curve } : {};
}
