import { BadRequestError } from '@correio/codec';
import { COMPONENT_SCHEMAS, MESSAGE_COMPONENTS } from '../generated/protocolSchemas.js';
import { pathParameters, type ChatRoute } from './chatRoutes.js';

type Schema = Readonly<Record<string, unknown>>;

/** The schema a `$ref` of the generated components names, or the schema itself. */
export function resolveComponent(schema: Schema | undefined): Schema | undefined {
  const ref = schema?.['$ref'];
  if (typeof ref !== 'string') return schema;
  return COMPONENT_SCHEMAS[ref.slice('#/components/schemas/'.length)];
}

/** The generated body schema of a message type. */
export function messageSchema(type: string): Schema & { properties?: Record<string, Schema>; required?: string[] } {
  const name = MESSAGE_COMPONENTS[type];
  const schema = name !== undefined ? COMPONENT_SCHEMAS[name] : undefined;
  if (schema === undefined) throw new Error(`no generated schema for ${type}: run npm run generate`);
  return schema as Schema & { properties?: Record<string, Schema>; required?: string[] };
}

/**
 * The request body of a route's message: path parameters, then (GET) query parameters with integers
 * read as numbers, or (POST) the JSON body's properties. The codec validates the result against the
 * protocol schema before it is sent, so nothing here needs to know what a valid body is.
 */
export function requestBody(route: ChatRoute, params: Record<string, string>, query: Record<string, unknown>, json: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const inPath = pathParameters(route.url);
  for (const name of inPath) body[name] = params[name];
  if (route.method === 'GET') {
    const properties = messageSchema(route.type).properties ?? {};
    for (const [name, value] of Object.entries(query)) {
      if (inPath.includes(name)) throw new BadRequestError(`${name} is given in the path; do not repeat it in the query`);
      body[name] = resolveComponent(properties[name])?.['type'] === 'integer' && typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
    }
    return body;
  }
  if (json === undefined || json === null) return body;
  if (typeof json !== 'object' || Array.isArray(json)) throw new BadRequestError('the request body must be a JSON object');
  for (const [name, value] of Object.entries(json)) {
    if (inPath.includes(name)) throw new BadRequestError(`${name} is given in the path; do not repeat it in the body`);
    body[name] = value;
  }
  return body;
}
