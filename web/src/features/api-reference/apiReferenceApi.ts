import type { FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { baseApi } from '../../api/baseApi';
import { buildReference, type ApiReference } from './reference';
import type { OpenApiDocument } from './types';

/** Where the server publishes its OpenAPI 3.1 document (public, generated from its routes). */
export const kOpenApiPath = '/api/v1/openapi.json';

function isOpenApiDocument(body: unknown): body is OpenApiDocument {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { openapi?: unknown }).openapi === 'string' &&
    typeof (body as { info?: unknown }).info === 'object'
  );
}

export const apiReferenceApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    /** The server's OpenAPI document, read into operations grouped by tag. */
    getApiReference: build.query<ApiReference, undefined>({
      async queryFn(_arg, _api, _extraOptions, baseQuery) {
        const result = await baseQuery(kOpenApiPath);
        if (result.error !== undefined) {
          return { error: result.error };
        }
        if (!isOpenApiDocument(result.data)) {
          const error: FetchBaseQueryError = {
            status: 'CUSTOM_ERROR',
            error: `The server's answer to ${kOpenApiPath} is not an OpenAPI document.`,
          };
          return { error };
        }
        return { data: buildReference(result.data) };
      },
    }),
  }),
});

export const { useGetApiReferenceQuery } = apiReferenceApi;
