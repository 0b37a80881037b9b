import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { stubFetch } from '../test/fetchStub';
import { renderApp } from '../test/renderApp';

describe('AppShell', () => {
  it('sends the start page to the first module', async () => {
    stubFetch({});
    const { router } = renderApp('/');
    expect(await screen.findByRole('heading', { level: 1, name: 'System' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/system');
  });

  it('renders the shell with a not-found page for an unknown client route', async () => {
    stubFetch({});
    renderApp('/some/client/route');

    expect(screen.getByRole('banner')).toHaveTextContent('Nimbus');
    const nav = screen.getByRole('navigation', { name: 'Main navigation' });
    expect(nav).toBeInTheDocument();
    expect(
      await screen.findByRole('heading', { level: 1, name: 'Page not found' }),
    ).toBeInTheDocument();
    expect(screen.getByText('/some/client/route')).toBeInTheDocument();
  });

  it('marks the current page in the navigation and follows links', async () => {
    stubFetch({});
    renderApp('/elsewhere');

    const link = screen.getByRole('link', { name: 'System' });
    expect(link).not.toHaveAttribute('aria-current');
    await userEvent.click(link);
    expect(await screen.findByRole('heading', { level: 1, name: 'System' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'System' })).toHaveAttribute('aria-current', 'page');
  });

  it('lets the keyboard skip to the main content first', async () => {
    stubFetch({});
    renderApp('/system');

    await userEvent.tab();
    const skip = screen.getByRole('link', { name: 'Skip to main content' });
    expect(skip).toHaveFocus();
    await userEvent.keyboard('{Enter}');
    expect(screen.getByRole('main')).toHaveFocus();
  });
});
