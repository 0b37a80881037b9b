import type { ComponentType, ReactElement } from 'react';

/**
 * Who may open a module's page (and sees its link):
 * - `everyone`: also signed-out visitors (System, API reference, sign-in pages);
 * - `signedIn`: any signed-in account;
 * - `operator`: platform operators (`is_operator` on `/api/v1/me`);
 * - `devMailbox`: operators, and anyone on a loopback address (where the server answers it).
 */
export type ModuleAccess = 'everyone' | 'signedIn' | 'operator' | 'devMailbox';

/** Where a module's link sits in the navigation. */
export type NavSection = 'main' | 'organization' | 'account' | 'operator';

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
  /** Who may open it; `everyone` when absent. */
  access?: ModuleAccess;
  /** Its navigation group; `main` when absent. */
  section?: NavSection;
  /**
   * A permission the page needs in the current organization (e.g. `api_keys.manage`); its link is
   * hidden from those without it. The page still explains itself when opened by URL.
   */
  permission?: string;
  /** False for pages reached by a link rather than the navigation (sign-in, mailed links). */
  inNavigation?: boolean;
}
