/**
 * The part of an OpenAPI 3.1 document (`GET /api/v1/openapi.json`) the API reference reads. Every
 * field is optional or loosely typed: the page shows whatever the server sends and must not break
 * on a field it does not know.
 */

/** `{ "$ref": "#/components/..." }`, in place of a schema, parameter or response. */
export interface Reference {
  $ref: string;
}

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it), as far as the reference renders it. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  title?: string;
  description?: string;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  deprecated?: boolean;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  deprecated?: boolean;
  schema?: Schema;
}

export interface OpenApiMediaType {
  schema?: Schema;
}

export interface OpenApiResponse {
  description?: string;
  content?: Record<string, OpenApiMediaType>;
}

export interface OpenApiRequestBody {
  description?: string;
  required?: boolean;
  content?: Record<string, OpenApiMediaType>;
}

export interface OpenApiOperation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: (OpenApiParameter | Reference)[];
  requestBody?: OpenApiRequestBody | Reference;
  responses?: Record<string, OpenApiResponse | Reference>;
  security?: Record<string, string[]>[];
  deprecated?: boolean;
  /** Nimbus: the permission a caller needs; absent on public routes. */
  'x-nimbus-permission'?: string;
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Record<string, unknown>>;
  components?: {
    schemas?: Record<string, Schema>;
    responses?: Record<string, OpenApiResponse>;
    parameters?: Record<string, OpenApiParameter>;
    requestBodies?: Record<string, OpenApiRequestBody>;
  };
}
