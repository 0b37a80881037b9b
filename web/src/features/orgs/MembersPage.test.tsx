import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { stubFetch, type StubRoutes } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { inOrg } from '../../test/inOrg';
import { clearSessionCookie, requestsTo } from '../../test/signedIn';

afterEach(clearSessionCookie);

const roles = [
  { id: 'owner', name: 'owner', description: '', permissions: [], builtin: true },
  { id: 'admin', name: 'admin', description: '', permissions: [], builtin: true },
  { id: 'viewer', name: 'viewer', description: '', permissions: [], builtin: true },
];

function membersOf(permissions: string[]): StubRoutes {
  return {
    ...inOrg(permissions, { role: 'viewer' }),
    '/api/v1/orgs/org_1/roles': { status: 200, body: { data: roles, next_cursor: null } },
    '/api/v1/orgs/org_1/members': {
      status: 200,
      body: {
        data: [
          {
            user_id: 'usr_1',
            email: 'ada@example.com',
            name: 'Ada',
            role: 'owner',
            role_name: 'owner',
            joined_at: '2026-11-24T14:00:00Z',
          },
        ],
        next_cursor: null,
      },
    },
  };
}

describe('MembersPage', () => {
  it('invites by email with the chosen role', async () => {
    let invitations: unknown[] = [];
    const fetchMock = stubFetch({
      ...membersOf(['org.read', 'org.members.read', 'org.members.invite']),
      '/api/v1/orgs/org_1/invitations': () => {
        const last = fetchMock.mock.calls.at(-1)?.[0] as Request | undefined;
        if (last?.method === 'POST') {
          invitations = [
            {
              id: 'inv_1',
              email: 'bob@example.com',
              role: 'admin',
              invited_by: 'usr_1',
              created_at: '2026-11-24T15:00:00Z',
              expires_at: '2026-12-01T15:00:00Z',
            },
          ];
          return { status: 201, body: invitations[0] };
        }
        return { status: 200, body: { data: invitations, next_cursor: null } };
      },
    });
    renderApp('/org/members');
    expect(await screen.findByText('No open invitations.')).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/^Email to invite/));
    await userEvent.paste('bob@example.com');
    await userEvent.click(screen.getByRole('combobox', { name: 'Role' }));
    await userEvent.click(await screen.findByRole('option', { name: 'admin' }));
    await userEvent.click(screen.getByRole('button', { name: 'Send invitation' }));

    expect(await screen.findByText('Invitation sent to bob@example.com.')).toBeInTheDocument();
    const table = await screen.findByRole('table', { name: 'Open invitations' });
    expect(within(table).getByText('bob@example.com')).toBeInTheDocument();
    const post = requestsTo(fetchMock, '/api/v1/orgs/org_1/invitations').find(
      (request) => request.method === 'POST',
    );
    expect(await post?.json()).toEqual({ email: 'bob@example.com', role: 'admin' });
  });

  it('shows a viewer the members without the controls, and hides pages it may not use', async () => {
    stubFetch({
      ...membersOf(['org.read', 'org.members.read']),
      '/api/v1/orgs/org_1/invitations': { status: 200, body: { data: [], next_cursor: null } },
    });
    renderApp('/org/members');
    const members = await screen.findByRole('table', { name: 'Members' });
    expect(within(members).getByText('ada@example.com')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Send invitation' })).toBeNull();
    expect(screen.queryByRole('button', { name: /^Remove/ })).toBeNull();
    const nav = screen.getByRole('navigation', { name: 'Main navigation' });
    await waitFor(() => {
      expect(within(nav).queryByRole('link', { name: 'API keys' })).toBeNull();
    });
    expect(within(nav).queryByRole('link', { name: 'Audit log' })).toBeNull();
    expect(within(nav).getByRole('link', { name: 'Members' })).toHaveAttribute(
      'aria-current',
      'page',
    );
    expect(within(nav).getByRole('link', { name: 'Overview' })).not.toHaveAttribute('aria-current');
  });

  it('offers every role in the role menus, however many pages the server answers them in', async () => {
    const member = {
      id: 'member',
      name: 'member',
      description: '',
      permissions: [],
      builtin: true,
    };
    const auditor = {
      id: 'rol_9',
      name: 'auditor',
      description: '',
      permissions: [],
      builtin: false,
    };
    const bob = {
      user_id: 'usr_2',
      email: 'bob@example.com',
      name: 'Bob',
      role: 'viewer',
      role_name: 'viewer',
      joined_at: '2026-11-24T15:00:00Z',
    };
    const fetchMock = stubFetch({
      ...membersOf([
        'org.read',
        'org.members.read',
        'org.members.update_role',
        'org.members.invite',
      ]),
      '/api/v1/orgs/org_1/roles': (url) =>
        url.searchParams.get('cursor') === 'page2'
          ? { status: 200, body: { data: [member, roles[2], auditor], next_cursor: null } }
          : { status: 200, body: { data: roles.slice(0, 2), next_cursor: 'page2' } },
      '/api/v1/orgs/org_1/members': { status: 200, body: { data: [bob], next_cursor: null } },
      '/api/v1/orgs/org_1/members/usr_2': { status: 200, body: { ...bob, role: 'rol_9' } },
      '/api/v1/orgs/org_1/invitations': { status: 200, body: { data: [], next_cursor: null } },
    });
    renderApp('/org/members');

    await userEvent.click(await screen.findByRole('combobox', { name: 'Role' }));
    const offered = (await screen.findAllByRole('option')).map((option) => option.textContent);
    expect(offered).toEqual(['admin', 'member', 'viewer', 'auditor']);
    await userEvent.keyboard('{Escape}');

    await userEvent.click(screen.getByRole('combobox', { name: 'Role of bob@example.com' }));
    await userEvent.click(await screen.findByRole('option', { name: 'auditor' }));
    await waitFor(() => {
      expect(
        requestsTo(fetchMock, '/api/v1/orgs/org_1/members/usr_2').some(
          (request) => request.method === 'PATCH',
        ),
      ).toBe(true);
    });
    const patch = requestsTo(fetchMock, '/api/v1/orgs/org_1/members/usr_2').find(
      (request) => request.method === 'PATCH',
    );
    expect(await patch?.json()).toEqual({ role: 'rol_9' });

    // The largest pages the server gives, and the second asked for by the first one's cursor.
    const pages = requestsTo(fetchMock, '/api/v1/orgs/org_1/roles').map(
      (request) => new URL(request.url).searchParams,
    );
    expect(pages.every((params) => params.get('limit') === '200')).toBe(true);
    expect(pages.map((params) => params.get('cursor'))).toEqual([null, 'page2']);
  });
});
