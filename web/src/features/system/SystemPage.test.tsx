import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { stubFetch, type StubRoutes } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { kSystemPollingIntervalMs } from './systemApi';
import type { SystemInfo } from './types';

const info: SystemInfo = {
  version: '0.1.0',
  commit: 'abc1234',
  build_type: 'release',
  started_at: '2026-11-24T14:03:23.123Z',
  uptime_seconds: 3_723.5,
  database: { backend: 'sqlite' },
  migrations: [
    { module: 'events', version: 1, name: 'outbox', applied_at: '2026-11-24T14:03:23.123Z' },
    { module: 'identity', version: 2, name: 'sessions', applied_at: '2026-11-24T14:03:23.456Z' },
  ],
};

const healthy: StubRoutes = {
  '/api/v1/system/info': { status: 200, body: info },
  '/healthz': { status: 200, body: { status: 'ok' } },
  '/readyz': {
    status: 200,
    body: { status: 'ready', checks: { database: 'ok', migrations: 'ok' } },
  },
};

function section(name: string) {
  return screen.getByRole('region', { name });
}

describe('SystemPage', () => {
  it('shows the build, uptime, database and migrations the API reports', async () => {
    stubFetch(healthy);
    renderApp('/system');

    expect(await screen.findByRole('heading', { level: 1, name: 'System' })).toBeInTheDocument();
    const server = await screen.findByRole('region', { name: 'Server' });
    expect(within(server).getByText('0.1.0')).toBeInTheDocument();
    expect(within(server).getByText('abc1234')).toBeInTheDocument();
    expect(within(server).getByText('release')).toBeInTheDocument();
    expect(within(server).getByText(/^1 hour, 2 minutes, [345] seconds$/)).toBeInTheDocument();

    const database = section('Database');
    expect(within(database).getByText('sqlite')).toBeInTheDocument();
    const table = within(database).getByRole('table', { name: 'Applied migrations' });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3); // header + two migrations
    expect(within(rows[1] as HTMLElement).getByText('events')).toBeInTheDocument();
    expect(within(rows[1] as HTMLElement).getByText('outbox')).toBeInTheDocument();
    expect(within(rows[2] as HTMLElement).getByText('sessions')).toBeInTheDocument();
    expect(rows[1]?.querySelector('time')).toHaveAttribute('datetime', '2026-11-24T14:03:23.123Z');

    const health = section('Health');
    expect(await within(health).findByText('Live')).toBeInTheDocument();
    expect(await within(health).findByText('Ready')).toBeInTheDocument();
    expect(within(health).getByText('database')).toBeInTheDocument();
    expect(document.title).toBe('System · Nimbus');
  });

  it('shows "not ready" with the problem detail when /readyz answers 503', async () => {
    stubFetch({
      ...healthy,
      '/readyz': {
        status: 503,
        body: {
          type: 'https://nimbus.dev/problems/not-ready',
          title: 'Not ready',
          status: 503,
          detail: 'migrations: 2 pending',
          instance: '/readyz',
          request_id: 'req_01JD',
        },
      },
    });
    renderApp('/system');

    const health = await screen.findByRole('region', { name: 'Health' });
    expect(await within(health).findByText('Not ready')).toBeInTheDocument();
    expect(within(health).getByText('migrations: 2 pending')).toBeInTheDocument();
    expect(within(health).getByText('req_01JD')).toBeInTheDocument();
    expect(within(health).getByText('Live')).toBeInTheDocument();
  });

  it('shows the problem when the system info request fails, and retries', async () => {
    let answers = 0;
    const fetchMock = stubFetch({
      ...healthy,
      '/api/v1/system/info': () => {
        answers += 1;
        return answers === 1
          ? {
              status: 500,
              body: {
                type: 'about:blank',
                title: 'Internal Server Error',
                status: 500,
                detail: 'database is locked',
                instance: '/api/v1/system/info',
                request_id: 'req_42',
              },
            }
          : { status: 200, body: info };
      },
    });
    renderApp('/system');

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Internal Server Error (500)');
    expect(alert).toHaveTextContent('database is locked');
    expect(alert).toHaveTextContent('req_42');

    await userEvent.click(within(alert).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByText('0.1.0')).toBeInTheDocument();
    expect(fetchMock.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('says the server cannot be reached when nothing answers', async () => {
    stubFetch({});
    renderApp('/system');

    const health = await screen.findByRole('region', { name: 'Health' });
    await waitFor(() => {
      expect(within(health).getAllByText('Cannot reach the Nimbus server').length).toBeGreaterThan(
        0,
      );
    });
    expect(within(health).getByText('Unknown')).toBeInTheDocument();
    expect(await screen.findAllByRole('alert')).not.toHaveLength(0);
  });

  it('counts uptime on every second and asks the server again every 10 s', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const fetchMock = stubFetch({
        ...healthy,
        '/api/v1/system/info': { status: 200, body: { ...info, uptime_seconds: 59 } },
      });
      const infoCalls = () =>
        fetchMock.mock.calls.filter(([input]) =>
          String(input instanceof Request ? input.url : input).endsWith('/api/v1/system/info'),
        ).length;
      renderApp('/system');

      const server = await screen.findByRole('region', { name: 'Server' });
      expect(within(server).getByText(/^59 seconds$/)).toBeInTheDocument();
      expect(infoCalls()).toBe(1);

      await vi.advanceTimersByTimeAsync(2_000);
      expect(within(server).getByText(/^1 minute, [12] seconds?$/)).toBeInTheDocument();

      await vi.advanceTimersByTimeAsync(kSystemPollingIntervalMs);
      await waitFor(() => {
        expect(infoCalls()).toBe(2);
      });
    } finally {
      vi.useRealTimers();
    }
  });
});
