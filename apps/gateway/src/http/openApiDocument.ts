import { COMPONENT_SCHEMAS, MESSAGE_COMPONENTS } from '../generated/protocolSchemas.js';
import { openApiPath, pathParameters, type ChatRoute } from './chatRoutes.js';
import { messageSchema } from './requestBody.js';
import { MESSAGE_INFO, type MessageType } from '@correio/protocol';

type Json = Record<string, unknown>;

const ERROR_RESPONSE = { description: 'A typed error (protocol/ENCODING.md §5): code, message, retryable, data.', content: { 'application/json': { schema: ref('ErrorReply') } } };

function ref(component: string): Json {
  return { $ref: `#/components/schemas/${component}` };
}

/**
 * The gateway's OpenAPI 3.1 document, built from the route table and the protocol's schemas
 * (tools/codegen writes them into generated/protocolSchemas.ts): every path parameter, query
 * parameter and request body is the matching part of the message's schema, every reply its reply's.
 */
export function openApiDocument(routes: readonly ChatRoute[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = (paths[openApiPath(route.url)] ??= {});
    path[route.method.toLowerCase()] = chatOperation(route);
  }
  Object.assign(paths, SERVICE_PATHS);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Correio gateway',
      version,
      description:
        'The HTTP edge of a Correio cluster. Each /v1 route of the chat, logs and tasks services is one request of that service (protocol/schemas/v1), sent through the broker with the caller\'s bearer token; ' +
        'errors are the protocol\'s typed errors. Live events: WebSocket /v1/stream; operators\' dashboard: WebSocket /v1/dashboard, a gateway.dashboard snapshot per interval (see apps/gateway/README.md).',
    },
    components: {
      schemas: COMPONENT_SCHEMAS,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token from /v1/login or /v1/refresh.' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

function chatOperation(route: ChatRoute): Json {
  const schema = messageSchema(route.type);
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const inPath = pathParameters(route.url);
  const parameters: Json[] = inPath.map((name) => ({ name, in: 'path', required: true, schema: properties[name] }));
  const rest = Object.keys(properties).filter((name) => !inPath.includes(name));
  let requestBody: Json | undefined;
  if (route.method === 'GET') {
    for (const name of rest) parameters.push({ name, in: 'query', required: required.has(name), schema: properties[name] });
  } else {
    parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, description: 'The request id (1–64 of [0-9A-Za-z_-]): a retry with the same key is served once.', schema: COMPONENT_SCHEMAS['requestId'] });
    const bodySchema = {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(rest.map((name) => [name, properties[name]])),
      required: rest.filter((name) => required.has(name)),
    };
    requestBody = { required: bodySchema.required.length > 0, content: { 'application/json': { schema: bodySchema } } };
  }
  const reply = MESSAGE_INFO[route.type].reply as MessageType;
  return {
    operationId: route.type.replace(/\.request$/, '').replace(/\.([a-z])/g, (_, letter: string) => letter.toUpperCase()),
    summary: route.summary,
    description: `${MESSAGE_INFO[route.type].description}\n\nSent as \`${route.type}\` to the \`${MESSAGE_INFO[route.type].service}\` service.`,
    tags: [route.service ?? 'chat'],
    ...(route.anonymous ? { security: [] } : {}),
    parameters,
    ...(requestBody ? { requestBody } : {}),
    responses: {
      [String(route.status ?? 200)]: { description: `\`${reply}\``, content: { 'application/json': { schema: ref(MESSAGE_COMPONENTS[reply]!) } } },
      default: ERROR_RESPONSE,
    },
  };
}

const SERVICE_NAME = { type: 'string', pattern: '^[a-z][a-z0-9_-]*(\\.[a-z][a-z0-9_-]*){0,2}$', maxLength: 64 };

/** The generic service routes: a `service.call.request` to an allowed service, and the live services. */
const SERVICE_PATHS: Record<string, Json> = {
  '/v1/services': {
    get: {
      operationId: 'servicesList',
      summary: 'Live services, their workers, and the servers the reference server lists',
      tags: ['services'],
      responses: {
        200: {
          description: 'Services with workers (broker MMI) and the ref\'s servers (`ref.servers.reply`, null when the ref does not answer).',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['services', 'servers'],
                properties: {
                  services: { type: 'array', items: { type: 'object', required: ['name', 'available'], properties: { name: SERVICE_NAME, available: { type: 'boolean' }, callable: { type: 'boolean' } } } },
                  servers: { oneOf: [ref('RefServersReply'), { type: 'null' }] },
                },
              },
            },
          },
        },
        default: ERROR_RESPONSE,
      },
    },
  },
  '/v1/services/{name}': {
    post: {
      operationId: 'serviceCall',
      summary: 'Call an action of an allowed MDP service (service.call.request to svc.<name>)',
      tags: ['services'],
      parameters: [{ name: 'name', in: 'path', required: true, schema: SERVICE_NAME }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('ServiceCallRequest') } } },
      responses: {
        200: { description: '`service.call.reply`', content: { 'application/json': { schema: ref('ServiceCallReply') } } },
        default: ERROR_RESPONSE,
      },
    },
  },
};
