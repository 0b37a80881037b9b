import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { stubFetch, type StubRoutes } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { inOrg } from '../../test/inOrg';
import { clearSessionCookie, requestsTo } from '../../test/signedIn';

afterEach(clearSessionCookie);

function key(id: string, name: string) {
  return {
    id,
    name,
    permissions: ['org.read'],
    created_by: 'usr_1',
    created_at: '2026-11-24T14:00:00Z',
    expires_at: null,
    last_used_at: null,
  };
}

function withKeys(): StubRoutes {
  return {
    ...inOrg(['org.read', 'api_keys.manage']),
    '/api/v1/permissions': { status: 200, body: { permissions: [], roles: [] } },
  };
}

describe('ApiKeysPage', () => {
  it('follows next_cursor with "Show more" from the keyboard, then moves focus to the table', async () => {
    const fetchMock = stubFetch({
      ...withKeys(),
      '/api/v1/orgs/org_1/api-keys': () => {
        const last = fetchMock.mock.calls.at(-1)?.[0] as Request;
        return new URL(last.url).searchParams.get('cursor') === 'page_2'
          ? { status: 200, body: { data: [key('key_2', 'deploy')], next_cursor: null } }
          : { status: 200, body: { data: [key('key_1', 'ci')], next_cursor: 'page_2' } };
      },
    });
    renderApp('/org/api-keys');
    const table = await screen.findByRole('table', { name: 'API keys' });
    expect(within(table).getByText('ci')).toBeInTheDocument();
    expect(within(table).queryByText('deploy')).toBeNull();

    const more = screen.getByRole('button', { name: 'Show more API keys' });
    more.focus();
    await userEvent.keyboard('{Enter}');

    expect(await within(table).findByText('deploy')).toBeInTheDocument();
    expect(within(table).getByText('ci')).toBeInTheDocument();
    await waitFor(() => {
      expect(screen.queryByRole('button', { name: 'Show more API keys' })).toBeNull();
    });
    // The button went with the last page; focus is on the list, not lost to the page.
    expect(table.parentElement).toHaveFocus();
    const cursors = requestsTo(fetchMock, '/api/v1/orgs/org_1/api-keys').map((request) =>
      new URL(request.url).searchParams.get('cursor'),
    );
    expect(cursors).toEqual([null, 'page_2']);
  });

  it('offers no "Show more" when the answer has no next page', async () => {
    stubFetch({
      ...withKeys(),
      '/api/v1/orgs/org_1/api-keys': {
        status: 200,
        body: { data: [key('key_1', 'ci')], next_cursor: null },
      },
    });
    renderApp('/org/api-keys');
    const table = await screen.findByRole('table', { name: 'API keys' });
    expect(within(table).getByText('ci')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /^Show more/ })).toBeNull();
  });
});
