import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { stubFetch, type StubRoutes } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { account, requestsTo } from '../../test/signedIn';

const me = account();

/** The answer to a refresh with a valid cookie: a new access token. */
const refreshed = {
  status: 200,
  body: { access_token: 'tok_r', token_type: 'Bearer', expires_in: 900 },
};

const signedInRoutes: StubRoutes = {
  '/api/v1/me': { status: 200, body: me },
  '/api/v1/orgs': { status: 200, body: { data: [], next_cursor: null } },
  '/api/v1/system/info': { status: 503, body: { title: 'Down', status: 503 } },
  '/healthz': { status: 200, body: { status: 'ok' } },
  '/readyz': { status: 200, body: { status: 'ready', checks: {} } },
};

/** Types into a field at once (pasting), which keeps the tests quick on a busy machine. */
async function fill(field: HTMLElement, text: string) {
  await userEvent.click(field);
  await userEvent.paste(text);
}

afterEach(() => {
  document.cookie = 'nimbus_csrf=; max-age=0';
});

describe('sign-in', () => {
  it('signs in, asks for the cookie session, and returns to the page asked for', async () => {
    const fetchMock = stubFetch({
      ...signedInRoutes,
      '/api/v1/auth/login': {
        status: 200,
        body: { access_token: 'tok_1', token_type: 'Bearer', expires_in: 900 },
      },
    });
    const { router } = renderApp('/account');

    // Signed out: the account page sends to sign-in, remembering where to come back.
    expect(await screen.findByRole('heading', { level: 1, name: 'Sign in' })).toBeInTheDocument();
    expect(router.state.location.search).toBe('?next=%2Faccount');

    await fill(screen.getByLabelText(/Email/), 'ada@example.com');
    await fill(screen.getByLabelText(/Password/), 'correct horse battery');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Profile' })).toBeInTheDocument();
    const [login] = requestsTo(fetchMock, '/api/v1/auth/login');
    expect(await login?.json()).toEqual({
      email: 'ada@example.com',
      password: 'correct horse battery',
      use_cookie: true,
    });
    // Later requests carry the in-memory token.
    const [meRequest] = requestsTo(fetchMock, '/api/v1/me');
    expect(meRequest?.headers.get('Authorization')).toBe('Bearer tok_1');
    expect(window.localStorage.getItem('tok_1')).toBeNull();
    expect(screen.getByRole('button', { name: /Ada/ })).toBeInTheDocument();
  });

  it('shows the server problem for wrong credentials and stays signed out', async () => {
    stubFetch({
      '/api/v1/auth/login': {
        status: 401,
        body: {
          type: '/problems/unauthenticated',
          title: 'Unauthorized',
          status: 401,
          detail: 'the email or password is wrong',
        },
      },
    });
    renderApp('/sign-in');
    await fill(await screen.findByLabelText(/Email/), 'ada@example.com');
    await fill(screen.getByLabelText(/Password/), 'wrong');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('the email or password is wrong');
    expect(screen.getByRole('link', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('asks for the second factor when the account has one', async () => {
    const fetchMock = stubFetch({
      ...signedInRoutes,
      '/api/v1/auth/login': {
        status: 200,
        body: { mfa_required: true, mfa_token: 'mfa_1', expires_in: 300 },
      },
      '/api/v1/auth/login/mfa': {
        status: 200,
        body: { access_token: 'tok_2', token_type: 'Bearer', expires_in: 900 },
      },
    });
    renderApp('/sign-in?next=%2Faccount');
    await fill(await screen.findByLabelText(/Email/), 'ada@example.com');
    await fill(screen.getByLabelText(/Password/), 'correct horse battery');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(
      await screen.findByRole('heading', { level: 1, name: 'Two-step verification' }),
    ).toBeInTheDocument();
    const code = screen.getByLabelText(/Code/);
    expect(code).toHaveFocus();
    await fill(code, '123456');
    await userEvent.click(screen.getByRole('button', { name: 'Verify' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Profile' })).toBeInTheDocument();
    const [mfa] = requestsTo(fetchMock, '/api/v1/auth/login/mfa');
    expect(await mfa?.json()).toEqual({ mfa_token: 'mfa_1', code: '123456', use_cookie: true });
  });
});

describe('the session', () => {
  it('is restored from the refresh cookie on page load, with the CSRF header', async () => {
    document.cookie = 'nimbus_csrf=csrf_1';
    const fetchMock = stubFetch({
      ...signedInRoutes,
      '/api/v1/auth/refresh': refreshed,
    });
    renderApp('/account');
    expect(await screen.findByRole('heading', { level: 1, name: 'Profile' })).toBeInTheDocument();
    const [refresh] = requestsTo(fetchMock, '/api/v1/auth/refresh');
    expect(refresh?.headers.get('X-CSRF-Token')).toBe('csrf_1');
    expect(await refresh?.json()).toEqual({});
  });

  it('refreshes once after a 401 and retries the request', async () => {
    document.cookie = 'nimbus_csrf=csrf_1';
    let meAnswers = 0;
    let refreshes = 0;
    const fetchMock = stubFetch({
      ...signedInRoutes,
      '/api/v1/auth/refresh': () => {
        refreshes += 1;
        return {
          status: 200,
          body: { access_token: `tok_${refreshes}`, token_type: 'Bearer', expires_in: 900 },
        };
      },
      '/api/v1/me': () => {
        meAnswers += 1;
        return meAnswers === 1
          ? { status: 401, body: { title: 'Unauthorized', status: 401 } }
          : { status: 200, body: me };
      },
    });
    renderApp('/account');
    const profile = await screen.findByRole('region', { name: 'Profile' });
    expect(within(profile).getByText('ada@example.com')).toBeInTheDocument();
    const meRequests = requestsTo(fetchMock, '/api/v1/me');
    expect(meRequests[0]?.headers.get('Authorization')).toBe('Bearer tok_1');
    expect(meRequests[1]?.headers.get('Authorization')).toBe('Bearer tok_2');
  });

  it('ends when the refresh is refused, back to sign-in', async () => {
    document.cookie = 'nimbus_csrf=csrf_1';
    stubFetch({
      '/api/v1/auth/refresh': { status: 401, body: { title: 'Unauthorized', status: 401 } },
    });
    const { router } = renderApp('/org/members');
    expect(await screen.findByRole('heading', { level: 1, name: 'Sign in' })).toBeInTheDocument();
    expect(router.state.location.search).toBe('?next=%2Forg%2Fmembers');
  });

  it('signs out through the account menu, on the server too', async () => {
    document.cookie = 'nimbus_csrf=csrf_1';
    const fetchMock = stubFetch({
      ...signedInRoutes,
      '/api/v1/auth/refresh': refreshed,
      '/api/v1/auth/logout': { status: 204, body: null },
    });
    renderApp('/account');
    await userEvent.click(await screen.findByRole('button', { name: /Ada/ }));
    await userEvent.click(await screen.findByRole('menuitem', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Sign in' })).toBeInTheDocument();
    await waitFor(() => {
      expect(requestsTo(fetchMock, '/api/v1/auth/logout')).toHaveLength(1);
    });
    expect(requestsTo(fetchMock, '/api/v1/auth/logout')[0]?.headers.get('X-CSRF-Token')).toBe(
      'csrf_1',
    );
  });
});

describe('the navigation', () => {
  it('shows visitors the public pages only', async () => {
    stubFetch(signedInRoutes);
    renderApp('/system');
    const nav = screen.getByRole('navigation', { name: 'Main navigation' });
    await screen.findByRole('link', { name: 'Sign in' });
    expect(within(nav).getByRole('link', { name: 'System' })).toBeInTheDocument();
    expect(within(nav).queryByRole('link', { name: 'Members' })).toBeNull();
    expect(within(nav).queryByRole('link', { name: 'Firewall' })).toBeNull();
  });

  it('shows operators the operator pages', async () => {
    document.cookie = 'nimbus_csrf=csrf_1';
    stubFetch({
      ...signedInRoutes,
      '/api/v1/me': { status: 200, body: { ...me, is_operator: true } },
      '/api/v1/auth/refresh': refreshed,
    });
    renderApp('/system');
    const nav = screen.getByRole('navigation', { name: 'Main navigation' });
    expect(await within(nav).findByRole('link', { name: 'Firewall' })).toBeInTheDocument();
    expect(within(nav).getByRole('link', { name: 'Rate limits' })).toBeInTheDocument();
    expect(within(nav).getByRole('link', { name: 'Members' })).toBeInTheDocument();
  });
});
