import { Suspense } from 'react';
import { Navigate, type RouteObject } from 'react-router';
import { AppShell } from '../components/AppShell';
import { LoadingState } from '../components/LoadingState';
import { NotFoundPage } from '../components/NotFoundPage';
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
      ...consoleModules.map(({ id, path, Page }) => ({
        id,
        path,
        element: (
          <Suspense fallback={<LoadingState label="Loading page" />}>
            <Page />
          </Suspense>
        ),
      })),
      { path: '*', element: <NotFoundPage startPath={startPath} /> },
    ],
  },
];
