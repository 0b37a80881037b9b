import { Suspense } from 'react';
import { Navigate, type RouteObject, type RouterProviderProps } from 'react-router-dom';
import { AppShell } from '../components/AppShell';
import { LoadingState } from '../components/LoadingState';
import { NotFoundPage } from '../components/NotFoundPage';
import { RequireAccess } from '../components/RequireAccess';
import { RouteErrorPage } from '../components/RouteErrorPage';
import { consoleModules } from './modules';

const startPath = consoleModules[0]?.path ?? '/';

/**
 * The console's routes: every page inside the app shell. Any path that no module claims still gets
 * the shell with a "not found" page, since the server answers every client route with index.html.
 */
export const routes: RouteObject[] = [
  {
    path: '/',
    element: <AppShell modules={consoleModules} />,
    errorElement: <RouteErrorPage />,
    children: [
      { index: true, element: <Navigate to={startPath} replace /> },
      ...consoleModules.map(({ id, path, Page, access }) => ({
        id,
        path,
        element: (
          <RequireAccess access={access ?? 'everyone'}>
            <Suspense fallback={<LoadingState label="Loading page" />}>
              <Page />
            </Suspense>
          </RequireAccess>
        ),
      })),
      { path: '*', element: <NotFoundPage startPath={startPath} /> },
    ],
  },
];

/**
 * React Router 6 (v7 needs Node 20 to build; see README) with every v7 behaviour switched on, so the
 * console already behaves as it will on v7 and the router logs no "future flag" warnings.
 */
export const routerOptions = {
  future: {
    v7_fetcherPersist: true,
    v7_normalizeFormMethod: true,
    v7_partialHydration: true,
    v7_relativeSplatPath: true,
    v7_skipActionErrorRevalidation: true,
  },
} as const;

/** The `future` prop for `RouterProvider`, the other half of the v7 flags. */
export const routerProviderFuture: RouterProviderProps['future'] = { v7_startTransition: true };
