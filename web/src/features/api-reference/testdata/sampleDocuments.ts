import type { OpenApiDocument } from '../types';
import nimbusJson from './openapi.nimbus.json';

/**
 * The document a development build of the server answers at `GET /api/v1/openapi.json`, copied
 * verbatim (`openapi.nimbus.json`): system, identity and gateway routes, public ones and ones that
 * need a permission, path parameters, no body or response schemas yet.
 */
export const nimbusDocument = nimbusJson as OpenApiDocument;

const problemResponses = {
  '4XX': { $ref: '#/components/responses/Problem' },
  '5XX': { $ref: '#/components/responses/Problem' },
};

/**
 * The same document with two identity routes added as the server's generator writes them
 * (src/http/openapi.cpp and its test): a permission, path and query parameters, a request body,
 * a response schema, a deprecated operation.
 */
export const identityDocument: OpenApiDocument = {
  ...nimbusDocument,
  tags: [
    ...(nimbusDocument.tags ?? []),
    { name: 'identity', description: 'Routes of the identity module.' },
  ],
  paths: {
    ...nimbusDocument.paths,
    '/api/v1/orgs/{org_id}/members': {
      get: {
        operationId: 'get_api_v1_orgs_org_id_members',
        summary: 'List members',
        tags: ['identity'],
        parameters: [
          { name: 'org_id', in: 'path', required: true, schema: { type: 'string' } },
          {
            name: 'archived',
            in: 'query',
            required: false,
            schema: { type: 'boolean' },
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 100, description: 'Page size.' },
            description: 'Page size.',
          },
        ],
        responses: {
          '200': {
            description: 'Success.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['members'],
                  properties: {
                    members: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['id', 'email'],
                        properties: {
                          id: { type: 'string' },
                          email: { type: 'string', format: 'email' },
                          role: { enum: ['owner', 'admin', 'member', 'viewer'] },
                        },
                      },
                    },
                    next_cursor: {
                      type: ['string', 'null'],
                      description: 'Where the next page starts.',
                    },
                  },
                },
              },
            },
          },
          ...problemResponses,
        },
        security: [{ bearer: [] }],
        'x-nimbus-permission': 'org.members.read',
      },
      post: {
        operationId: 'post_api_v1_orgs_org_id_members',
        summary: 'POST /api/v1/orgs/{org_id}/members',
        tags: ['identity'],
        parameters: [{ name: 'org_id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'role'],
                additionalProperties: false,
                properties: {
                  email: { type: 'string', maxLength: 254, pattern: '^[^@]+@[^@]+$' },
                  role: { enum: ['owner', 'admin', 'member', 'viewer'] },
                  tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
                },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'Success.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['id'],
                  properties: { id: { type: 'string' } },
                },
              },
            },
          },
          ...problemResponses,
        },
        security: [{ bearer: [] }],
        'x-nimbus-permission': 'org.members.write',
        deprecated: true,
      },
    },
  },
};
