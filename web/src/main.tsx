import { setupListeners } from '@reduxjs/toolkit/query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, RouterProvider } from 'react-router-dom';
import { AppProviders } from './app/AppProviders';
import { routerOptions, routerProviderFuture, routes } from './app/routes';
import { makeStore } from './app/store';

const store = makeStore();
// Refetch when the window regains focus or the network comes back.
setupListeners(store.dispatch);
const router = createBrowserRouter(routes, routerOptions);

const container = document.getElementById('root');
if (container === null) {
  throw new Error('index.html has no #root element');
}
createRoot(container).render(
  <StrictMode>
    <AppProviders store={store}>
      <RouterProvider router={router} future={routerProviderFuture} />
    </AppProviders>
  </StrictMode>,
);
