import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { stubFetch } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { account, clearSessionCookie, requestsTo, signedIn } from '../../test/signedIn';

afterEach(clearSessionCookie);

const rule = {
  id: 'ipr_1',
  kind: 'cidr',
  action: 'deny',
  value: '203.0.113.0/24',
  note: 'scanner',
  created_at: '2026-11-24T15:00:00Z',
};
const block = {
  seq: 7,
  id: 'evt_1',
  time: '2026-11-24T16:00:00Z',
  action: 'nimbus.gateway.firewall.blocked',
  actor_id: null,
  org_id: null,
  target_id: null,
  ip: '198.51.100.7',
  details: { route: '/api/v1/auth/login', rule_ids: [942100] },
};

describe('FirewallPage', () => {
  it('lists the rules, the mode and the recent blocks', async () => {
    const fetchMock = stubFetch({
      ...signedIn(account({ is_operator: true })),
      '/api/v1/admin/firewall': {
        status: 200,
        body: {
          enabled: true,
          mode: 'blocking',
          paranoia_level: 2,
          inbound_anomaly_threshold: 5,
          rule_exclusions: 1,
          prefilter_active: true,
        },
      },
      '/api/v1/admin/firewall/ip-rules': { status: 200, body: { data: [rule] } },
      '/api/v1/admin/audit': { status: 200, body: { data: [block], next_cursor: null } },
    });
    renderApp('/admin/firewall');
    const rules = await screen.findByRole('table', { name: 'IP and country rules' });
    expect(within(rules).getByText('203.0.113.0/24')).toBeInTheDocument();
    expect(within(rules).getByText('scanner')).toBeInTheDocument();
    expect(await screen.findByText('blocking')).toBeInTheDocument();
    expect(screen.getByText('Paranoia level')).toBeInTheDocument();
    expect(screen.getByText('Active')).toBeInTheDocument();
    const blocks = await screen.findByRole('table', { name: 'Requests the firewall blocked' });
    expect(within(blocks).getByText('198.51.100.7')).toBeInTheDocument();
    const [audit] = requestsTo(fetchMock, '/api/v1/admin/audit');
    expect(new URL(audit?.url ?? '').searchParams.get('action')).toBe(
      'nimbus.gateway.firewall.blocked',
    );
  });

  it('adds a rule and shows the field the server refused', async () => {
    let posts = 0;
    const fetchMock = stubFetch({
      ...signedIn(account({ is_operator: true })),
      '/api/v1/admin/firewall': { status: 404, body: { title: 'Not Found', status: 404 } },
      '/api/v1/admin/audit': { status: 200, body: { data: [], next_cursor: null } },
      '/api/v1/admin/firewall/ip-rules': () => {
        const last = fetchMock.mock.calls.at(-1)?.[0] as Request | undefined;
        if (last?.method === 'POST') {
          posts += 1;
          return {
            status: 400,
            body: {
              title: 'Bad Request',
              status: 400,
              errors: [{ pointer: '/value', message: 'host bits must be zero' }],
            },
          };
        }
        return { status: 200, body: { data: [] } };
      },
    });
    renderApp('/admin/firewall');
    expect(await screen.findByText(/No rules/)).toBeInTheDocument();
    expect(screen.getByText(/does not report its firewall mode/)).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/^CIDR/));
    await userEvent.paste('10.0.0.1/8');
    await userEvent.click(screen.getByRole('button', { name: 'Add rule' }));
    expect(await screen.findByText('host bits must be zero')).toBeInTheDocument();
    expect(posts).toBe(1);
    const post = requestsTo(fetchMock, '/api/v1/admin/firewall/ip-rules').find(
      (request) => request.method === 'POST',
    );
    expect(await post?.json()).toEqual({
      kind: 'cidr',
      action: 'deny',
      value: '10.0.0.1/8',
      note: '',
    });
  });

  it('is not offered to accounts that are not operators', async () => {
    stubFetch(signedIn());
    renderApp('/admin/firewall');
    expect(
      await screen.findByRole('heading', { level: 1, name: 'Not available' }),
    ).toBeInTheDocument();
    await waitFor(() => {
      expect(
        within(screen.getByRole('navigation', { name: 'Main navigation' })).queryByRole('link', {
          name: 'Firewall',
        }),
      ).toBeNull();
    });
  });
});

describe('RateLimitsPage', () => {
  it('sets an override with PUT on its key', async () => {
    const fetchMock = stubFetch({
      ...signedIn(account({ is_operator: true })),
      '/api/v1/admin/rate-limits/overrides': { status: 200, body: { data: [] } },
      '/api/v1/admin/rate-limits/overrides/user:usr_9': {
        status: 200,
        body: {
          key: 'user:usr_9',
          requests_per_minute: 60,
          burst: 0,
          updated_at: '2026-11-24T16:00:00Z',
        },
      },
    });
    renderApp('/admin/rate-limits');
    expect(await screen.findByText(/No overrides/)).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/^Key/));
    await userEvent.paste('user:usr_9');
    await userEvent.click(screen.getByLabelText(/^Requests per minute/));
    await userEvent.paste('60');
    await userEvent.click(screen.getByRole('button', { name: 'Save override' }));
    await waitFor(() => {
      expect(requestsTo(fetchMock, '/api/v1/admin/rate-limits/overrides/user:usr_9')).toHaveLength(
        1,
      );
    });
    const [put] = requestsTo(fetchMock, '/api/v1/admin/rate-limits/overrides/user:usr_9');
    expect(put?.method).toBe('PUT');
    expect(await put?.json()).toEqual({ requests_per_minute: 60, burst: 0 });
  });

  it('refuses an empty key without asking the server', async () => {
    const fetchMock = stubFetch({
      ...signedIn(account({ is_operator: true })),
      '/api/v1/admin/rate-limits/overrides': { status: 200, body: { data: [] } },
    });
    renderApp('/admin/rate-limits');
    await userEvent.click(await screen.findByRole('button', { name: 'Save override' }));
    expect(await screen.findByText('A key is required.')).toBeInTheDocument();
    expect(
      requestsTo(fetchMock, '/api/v1/admin/rate-limits/overrides').filter(
        (request) => request.method !== 'GET',
      ),
    ).toHaveLength(0);
  });
});
