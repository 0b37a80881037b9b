import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { ProblemAlert } from '../../components/ProblemAlert';
import { stubFetch } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { acme, inOrg } from '../../test/inOrg';
import { clearSessionCookie, requestsTo } from '../../test/signedIn';

afterEach(clearSessionCookie);

const org = acme({ require_mfa: false, role: 'owner' });

describe('OrganizationPage', () => {
  it('shows the require_mfa policy and lets an admin turn it on', async () => {
    const fetchMock = stubFetch({
      ...inOrg([], org),
      '/api/v1/orgs/org_1': () => {
        const last = fetchMock.mock.calls.at(-1)?.[0] as Request;
        return last.method === 'PATCH'
          ? { status: 200, body: { ...org, require_mfa: true } }
          : { status: 200, body: { ...org, permissions: ['org.read', 'org.update'] } };
      },
    });
    renderApp('/org');
    expect(await screen.findByText('Not required')).toBeInTheDocument();
    const toggle = await screen.findByRole('switch', {
      name: 'Require two-step verification for every member',
    });
    expect(toggle).not.toBeChecked();
    await userEvent.click(toggle);
    await waitFor(() => {
      const patches = requestsTo(fetchMock, '/api/v1/orgs/org_1').filter(
        (request) => request.method === 'PATCH',
      );
      expect(patches).toHaveLength(1);
    });
    const patch = requestsTo(fetchMock, '/api/v1/orgs/org_1').find(
      (request) => request.method === 'PATCH',
    );
    expect(await patch?.clone().json()).toEqual({ require_mfa: true });
  });

  it('explains a 403 mfa-required and links to Security', () => {
    render(
      <ProblemAlert
        problem={{
          type: '/problems/mfa-required',
          title: 'Forbidden',
          status: 403,
          detail: 'This organization requires two-step verification.',
        }}
      />,
    );
    expect(screen.getByRole('link', { name: 'Security' })).toHaveAttribute(
      'href',
      '/account/security',
    );
  });

  it('adds nothing to other problems', () => {
    render(
      <ProblemAlert problem={{ type: '/problems/forbidden', title: 'Forbidden', status: 403 }} />,
    );
    expect(screen.queryByRole('link', { name: 'Security' })).toBeNull();
  });
});
