import type {
  OpenApiDocument,
  OpenApiOperation,
  OpenApiParameter,
  OpenApiRequestBody,
  OpenApiResponse,
  Schema,
} from './types';

/** The HTTP methods a path item can hold, in the order the reference lists them. */
const kMethods = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'] as const;

export interface ParameterView {
  name: string;
  in: string;
  required: boolean;
  deprecated: boolean;
  description?: string | undefined;
  schema?: Schema | undefined;
}

/** One media type of a request or response body. */
export interface ContentView {
  mediaType: string;
  schema?: Schema | undefined;
}

export interface RequestBodyView {
  required: boolean;
  description?: string | undefined;
  content: ContentView[];
}

export interface ResponseView {
  /** "200", "4XX", ... */
  status: string;
  description: string;
  content: ContentView[];
}

/** One operation (method + path) as the page shows it. */
export interface OperationView {
  /** The operationId, also the element id the page links to (`#get_api_v1_system_info`). */
  id: string;
  /** Upper case: "GET". */
  method: string;
  path: string;
  summary: string;
  description?: string | undefined;
  tags: string[];
  /** `x-nimbus-permission`; undefined for a public operation. */
  permission?: string | undefined;
  deprecated: boolean;
  parameters: ParameterView[];
  requestBody?: RequestBodyView | undefined;
  /** The 200 answer (or the first 2XX one the document lists). */
  success?: ResponseView | undefined;
  /** 4XX and 5XX answers: RFC 9457 problems on every Nimbus route. */
  problems: ResponseView[];
}

export interface TagGroup {
  name: string;
  description?: string | undefined;
  operations: OperationView[];
}

/** The whole document, grouped for the page. */
export interface ApiReference {
  title: string;
  version: string;
  description?: string | undefined;
  openapi: string;
  groups: TagGroup[];
  operationCount: number;
  /** `components.schemas`, which `$ref`s in schemas point into. */
  schemas: Record<string, Schema>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Follows a local `$ref` ("#/components/responses/Problem") through the document, a few hops at
 * most; anything else (including a ref that leads nowhere) comes back as it was.
 */
export function resolveRef(document: OpenApiDocument, value: unknown): unknown {
  let current = value;
  for (let hop = 0; hop < 8 && isRecord(current) && typeof current.$ref === 'string'; ++hop) {
    const ref = current.$ref;
    if (!ref.startsWith('#/')) {
      return current;
    }
    let target: unknown = document;
    for (const raw of ref.slice(2).split('/')) {
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      target = isRecord(target) ? target[key] : undefined;
    }
    if (target === undefined) {
      return current;
    }
    current = target;
  }
  return current;
}

/** The name a `$ref` points at: "#/components/schemas/Problem" -> "Problem". */
export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

/** The id the server would give the operation, for a document that has no `operationId`. */
function fallbackOperationId(method: string, path: string): string {
  return `${method}_${path}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

function contentOf(content: unknown): ContentView[] {
  if (!isRecord(content)) {
    return [];
  }
  return Object.entries(content).map(([mediaType, media]) => ({
    mediaType,
    schema: isRecord(media) && isRecord(media.schema) ? (media.schema as Schema) : undefined,
  }));
}

function responseOf(document: OpenApiDocument, status: string, raw: unknown): ResponseView {
  const response = resolveRef(document, raw) as OpenApiResponse;
  return {
    status,
    description: optionalString(response.description) ?? '',
    content: contentOf(response.content),
  };
}

function parametersOf(document: OpenApiDocument, raw: unknown): ParameterView[] {
  if (!Array.isArray(raw)) {
    return [];
  }
  return raw
    .map((entry) => resolveRef(document, entry))
    .filter(isRecord)
    .map((entry) => {
      const parameter = entry as Partial<OpenApiParameter>;
      return {
        name: typeof parameter.name === 'string' ? parameter.name : '',
        in: typeof parameter.in === 'string' ? parameter.in : '',
        required: parameter.required === true,
        deprecated: parameter.deprecated === true,
        description:
          optionalString(parameter.description) ?? optionalString(parameter.schema?.description),
        schema: isRecord(parameter.schema) ? parameter.schema : undefined,
      };
    });
}

function operationOf(
  document: OpenApiDocument,
  method: string,
  path: string,
  operation: OpenApiOperation,
  pathParameters: unknown,
): OperationView {
  const responses = isRecord(operation.responses) ? operation.responses : {};
  const statuses = Object.keys(responses);
  const successStatus = statuses.includes('200')
    ? '200'
    : statuses.find((status) => status.startsWith('2'));
  const body =
    operation.requestBody === undefined
      ? undefined
      : (resolveRef(document, operation.requestBody) as OpenApiRequestBody);

  // Parameters of the path item apply to each of its operations, unless the operation redefines
  // one (same name and location).
  const own = parametersOf(document, operation.parameters);
  const inherited = parametersOf(document, pathParameters).filter(
    (shared) => !own.some((p) => p.name === shared.name && p.in === shared.in),
  );

  return {
    id: optionalString(operation.operationId) ?? fallbackOperationId(method, path),
    method: method.toUpperCase(),
    path,
    summary: optionalString(operation.summary) ?? `${method.toUpperCase()} ${path}`,
    description: optionalString(operation.description),
    tags: Array.isArray(operation.tags)
      ? operation.tags.filter((tag): tag is string => typeof tag === 'string')
      : [],
    permission: optionalString(operation['x-nimbus-permission']),
    deprecated: operation.deprecated === true,
    parameters: [...inherited, ...own],
    requestBody:
      body === undefined
        ? undefined
        : {
            required: body.required === true,
            description: optionalString(body.description),
            content: contentOf(body.content),
          },
    success:
      successStatus === undefined
        ? undefined
        : responseOf(document, successStatus, responses[successStatus]),
    problems: statuses
      .filter((status) => status.startsWith('4') || status.startsWith('5'))
      .map((status) => responseOf(document, status, responses[status])),
  };
}

/** The tag an operation without one is listed under. */
export const kUntagged = 'other';

/**
 * Reads the document into what the page shows: operations grouped by tag, the document's tags
 * first in its own order, then any tag it uses without declaring. Within a tag, operations keep
 * the document's order (paths as listed, methods in the usual order). An operation with several
 * tags is listed under each.
 */
export function buildReference(document: OpenApiDocument): ApiReference {
  const groups = new Map<string, TagGroup>();
  for (const tag of Array.isArray(document.tags) ? document.tags : []) {
    if (isRecord(tag) && typeof tag.name === 'string' && !groups.has(tag.name)) {
      groups.set(tag.name, {
        name: tag.name,
        description: optionalString(tag.description),
        operations: [],
      });
    }
  }

  let operationCount = 0;
  for (const [path, rawItem] of Object.entries(isRecord(document.paths) ? document.paths : {})) {
    const item = resolveRef(document, rawItem);
    if (!isRecord(item)) {
      continue;
    }
    for (const method of kMethods) {
      const raw = item[method];
      if (!isRecord(raw)) {
        continue;
      }
      const operation = operationOf(document, method, path, raw, item.parameters);
      operationCount += 1;
      const tags = operation.tags.length > 0 ? operation.tags : [kUntagged];
      for (const tag of tags) {
        let group = groups.get(tag);
        if (group === undefined) {
          group = { name: tag, operations: [] };
          groups.set(tag, group);
        }
        group.operations.push(operation);
      }
    }
  }

  const info = isRecord(document.info) ? document.info : { title: 'API', version: '' };
  return {
    title: optionalString(info.title) ?? 'API',
    version: typeof info.version === 'string' ? info.version : '',
    description: optionalString(info.description),
    openapi: typeof document.openapi === 'string' ? document.openapi : '',
    groups: [...groups.values()].filter((group) => group.operations.length > 0),
    operationCount,
    schemas: isRecord(document.components?.schemas) ? document.components.schemas : {},
  };
}

/**
 * Whether an operation matches what was typed in the filter: every word of it must appear in the
 * path, the summary, a tag, the method or the operation id (case-insensitively).
 */
export function matchesFilter(operation: OperationView, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) {
    return true;
  }
  const haystack = [
    operation.method,
    operation.path,
    operation.summary,
    operation.id,
    ...operation.tags,
  ]
    .join('\n')
    .toLowerCase();
  return words.every((word) => haystack.includes(word));
}

/** The groups with only their operations that match; groups left empty are dropped. */
export function filterGroups(groups: readonly TagGroup[], filter: string): TagGroup[] {
  return groups
    .map((group) => ({
      ...group,
      operations: group.operations.filter((operation) => matchesFilter(operation, filter)),
    }))
    .filter((group) => group.operations.length > 0);
}
