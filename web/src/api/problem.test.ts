import { describe, expect, it } from 'vitest';
import { toProblem } from './problem';

describe('toProblem', () => {
  it('keeps the server problem document', () => {
    const problem = {
      type: 'about:blank',
      title: 'Service unavailable',
      status: 503,
      detail: 'database: cannot open',
      instance: '/api/v1/system/info',
      request_id: 'req_01',
    };
    expect(toProblem({ status: 503, data: problem })).toEqual(problem);
  });

  it('takes the HTTP status when the problem has none', () => {
    expect(toProblem({ status: 500, data: { title: 'Internal error' } })).toEqual({
      title: 'Internal error',
      status: 500,
    });
  });

  it('describes an answer that is not a problem document', () => {
    expect(toProblem({ status: 502, data: 'Bad gateway' })).toEqual({
      title: 'The server answered 502',
      status: 502,
      detail: 'Bad gateway',
    });
  });

  it('describes a network failure', () => {
    expect(toProblem({ status: 'FETCH_ERROR', error: 'TypeError: Failed to fetch' }).title).toBe(
      'Cannot reach the Nimbus server',
    );
  });

  it('describes a body that is not JSON', () => {
    expect(
      toProblem({ status: 'PARSING_ERROR', originalStatus: 200, data: '<html>', error: 'bad' }),
    ).toMatchObject({ status: 200, detail: 'bad' });
  });

  it('describes a client-side exception', () => {
    expect(toProblem({ message: 'boom' })).toEqual({ title: 'Unexpected error', detail: 'boom' });
  });
});
