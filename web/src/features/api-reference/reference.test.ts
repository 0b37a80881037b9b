import { describe, expect, it } from 'vitest';
import { buildReference, filterGroups, matchesFilter, resolveRef } from './reference';
import { constraintsOf, typeLabel } from './schemaText';
import { identityDocument, nimbusDocument } from './testdata/sampleDocuments';
import type { OpenApiDocument } from './types';

describe('buildReference', () => {
  it('reads the server’s own document: every operation under its tag, in order', () => {
    const reference = buildReference(nimbusDocument);
    expect(reference.title).toBe('Nimbus API');
    expect(reference.openapi).toBe('3.1.0');
    expect(reference.groups.map((group) => group.name)).toEqual(['system']);
    const methods = Object.values(nimbusDocument.paths ?? {}).flatMap((item) => Object.keys(item));
    expect(reference.operationCount).toBe(methods.length);
    const ids = reference.groups.flatMap((group) => group.operations.map((op) => op.id));
    expect(ids).toContain('delete_api_v1_me_sessions_session_id');
    const session = reference.groups[0]?.operations.find(
      (op) => op.id === 'delete_api_v1_me_sessions_session_id',
    );
    expect(session).toMatchObject({
      method: 'DELETE',
      permission: 'account.self',
      parameters: [{ name: 'session_id', in: 'path', required: true, schema: { type: 'string' } }],
    });
    const info = reference.groups[0]?.operations.find((op) => op.path === '/api/v1/system/info');
    expect(info).toMatchObject({
      id: 'get_api_v1_system_info',
      method: 'GET',
      permission: undefined,
      deprecated: false,
      parameters: [],
      success: { status: '200', description: 'Success.', content: [] },
    });
    // The problem answers are $refs into components, resolved.
    expect(info?.problems).toEqual([
      {
        status: '4XX',
        description: 'A problem (RFC 9457).',
        content: [
          {
            mediaType: 'application/problem+json',
            schema: { $ref: '#/components/schemas/Problem' },
          },
        ],
      },
      expect.objectContaining({ status: '5XX' }),
    ]);
    expect(Object.keys(reference.schemas)).toEqual(['Problem']);
  });

  it('reads permissions, parameters, bodies and deprecation', () => {
    const reference = buildReference(identityDocument);
    expect(reference.groups.map((group) => group.name)).toEqual(['system', 'identity']);
    const [list, create] = reference.groups[1]?.operations ?? [];
    expect(list).toMatchObject({
      method: 'GET',
      summary: 'List members',
      permission: 'org.members.read',
      deprecated: false,
    });
    expect(list?.parameters.map((p) => [p.name, p.in, p.required, p.description])).toEqual([
      ['org_id', 'path', true, undefined],
      ['archived', 'query', false, undefined],
      ['limit', 'query', false, 'Page size.'],
    ]);
    expect(create).toMatchObject({
      method: 'POST',
      permission: 'org.members.write',
      deprecated: true,
      requestBody: { required: true, content: [{ mediaType: 'application/json' }] },
    });
  });

  it('copes with untagged operations, path-level parameters and missing ids', () => {
    const document: OpenApiDocument = {
      openapi: '3.1.0',
      info: { title: 'T', version: '1' },
      paths: {
        '/things/{id}': {
          parameters: [{ name: 'id', in: 'path', required: true }],
          delete: { responses: {} },
        },
      },
    };
    const reference = buildReference(document);
    expect(reference.groups).toHaveLength(1);
    expect(reference.groups[0]).toMatchObject({
      name: 'other',
      operations: [
        {
          id: 'delete_things_id',
          summary: 'DELETE /things/{id}',
          parameters: [{ name: 'id', in: 'path', required: true }],
        },
      ],
    });
  });

  it('leaves a $ref that leads nowhere as it is', () => {
    const ref = { $ref: '#/components/schemas/Missing' };
    expect(resolveRef(nimbusDocument, ref)).toBe(ref);
  });
});

describe('filtering', () => {
  const reference = buildReference(identityDocument);
  const all = reference.groups.flatMap((group) => group.operations);

  it('matches path, summary and tag, case-insensitively, every word', () => {
    const paths = (filter: string) =>
      all.filter((op) => matchesFilter(op, filter)).map((op) => `${op.method} ${op.path}`);
    expect(paths('system/INFO')).toEqual(['GET /api/v1/system/info']);
    expect(paths('list members')).toEqual(['GET /api/v1/orgs/{org_id}/members']);
    expect(paths('identity post')).toEqual(['POST /api/v1/orgs/{org_id}/members']);
    expect(paths('  ')).toHaveLength(all.length);
    expect(paths('nothing-like-this')).toEqual([]);
  });

  it('drops groups left empty', () => {
    expect(filterGroups(reference.groups, 'healthz').map((group) => group.name)).toEqual([
      'system',
    ]);
  });
});

describe('schema text', () => {
  it('names types', () => {
    expect(typeLabel({ type: 'string', format: 'email' })).toBe('string (email)');
    expect(typeLabel({ type: ['string', 'null'] })).toBe('string | null');
    expect(typeLabel({ type: 'array', items: { $ref: '#/components/schemas/Problem' } })).toBe(
      'array of Problem',
    );
    expect(typeLabel({ enum: ['a', 'b'] })).toBe('enum');
    expect(typeLabel({})).toBe('any');
  });

  it('lists limits', () => {
    expect(
      constraintsOf({ type: 'integer', minimum: 1, maximum: 100, enum: [1, 2], default: 1 }),
    ).toEqual(['one of 1, 2', '≥ 1', '≤ 100', 'default 1']);
    expect(constraintsOf({ type: 'object', additionalProperties: false })).toEqual([
      'no other properties',
    ]);
  });
});
