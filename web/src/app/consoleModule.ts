import type { ComponentType, ReactElement } from 'react';

/**
 * What a feature module (`features/<module>/`) gives the console shell: where its page lives, how
 * the navigation names it, and the page itself. The shell knows modules only through this, so a new
 * module (Identity, Billing, Storage, Events, ...) is one folder plus one line in `modules.ts`.
 */
export interface ConsoleModule {
  /** The server module it mirrors, e.g. "system". */
  id: string;
  /** The route path, e.g. "/system". */
  path: string;
  /** The name in the navigation and the page's heading. */
  label: string;
  /** A decorative icon shown next to the label (its accessible name is the label). */
  icon: ReactElement;
  /** The page, usually `lazy(() => import('./SomePage'))` so each module is its own chunk. */
  Page: ComponentType;
}
