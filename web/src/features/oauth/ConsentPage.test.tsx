import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stubFetch } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { clearSessionCookie, requestsTo, signedIn } from '../../test/signedIn';

afterEach(clearSessionCookie);

const request = {
  id: 'oar_1',
  client_id: 'cli_1',
  client_name: 'Photo Printer',
  scopes: ['openid', 'email'],
  redirect_uri: 'https://printer.example/callback',
  consented: false,
  expires_at: '2026-11-24T18:00:00Z',
};

function stubLocation() {
  const assign = vi.fn();
  const { href, origin, hostname } = window.location;
  vi.stubGlobal('location', { href, origin, hostname, assign });
  return assign;
}

describe('ConsentPage', () => {
  it('shows what the application asks and follows the decision back to it', async () => {
    const fetchMock = stubFetch({
      ...signedIn(),
      '/api/v1/oauth2/requests/oar_1': { status: 200, body: request },
      '/api/v1/oauth2/requests/oar_1/decision': {
        status: 200,
        body: { redirect_to: 'https://printer.example/callback?code=c&state=s' },
      },
    });
    renderApp('/consent?request=oar_1');
    expect(
      await screen.findByRole('heading', { level: 1, name: 'Allow Photo Printer?' }),
    ).toBeInTheDocument();
    expect(screen.getByText('See your email address and whether it is verified')).toBeVisible();
    expect(screen.getByText(/https:\/\/printer\.example/)).toBeInTheDocument();

    const assign = stubLocation();
    await userEvent.click(screen.getByRole('button', { name: 'Deny' }));
    await waitFor(() => {
      expect(assign).toHaveBeenCalledWith('https://printer.example/callback?code=c&state=s');
    });
    const [decision] = requestsTo(fetchMock, '/api/v1/oauth2/requests/oar_1/decision');
    expect(await decision?.json()).toEqual({ approve: false });
  });

  it('says so when the request is unknown or decided', async () => {
    stubFetch({
      ...signedIn(),
      '/api/v1/oauth2/requests/oar_2': {
        status: 404,
        body: { title: 'Not Found', status: 404, detail: 'No such authorization request.' },
      },
    });
    renderApp('/consent?request=oar_2');
    expect(await screen.findByRole('alert')).toHaveTextContent('No such authorization request.');
  });
});
