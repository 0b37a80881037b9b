import { render } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router-dom';
import { AppProviders } from '../app/AppProviders';
import { routerOptions, routerProviderFuture, routes } from '../app/routes';
import { makeStore } from '../app/store';

/** Renders the whole console — store, theme, routes, shell — at `path`, with a fresh store. */
export function renderApp(path: string) {
  const store = makeStore();
  const router = createMemoryRouter(routes, { ...routerOptions, initialEntries: [path] });
  const view = render(
    <AppProviders store={store}>
      <RouterProvider router={router} future={routerProviderFuture} />
    </AppProviders>,
  );
  return { ...view, store, router };
}
