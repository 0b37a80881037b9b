import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import ListItemButton from '@mui/material/ListItemButton';
import ListItemIcon from '@mui/material/ListItemIcon';
import ListItemText from '@mui/material/ListItemText';
import ListSubheader from '@mui/material/ListSubheader';
import { NavLink } from 'react-router-dom';
import type { ConsoleModule, NavSection } from '../app/consoleModule';
import type { Viewer } from '../app/viewer';

interface NavListProps {
  modules: readonly ConsoleModule[];
  viewer: Viewer;
  /** Called after a link is followed (closes the modal drawer on narrow screens). */
  onNavigate: () => void;
}

const kSections: { id: NavSection; title: string | null }[] = [
  { id: 'main', title: null },
  { id: 'organization', title: 'Organization' },
  { id: 'account', title: 'Account' },
  { id: 'operator', title: 'Operator' },
];

/** Whether the viewer may use a module, so its link is worth showing. */
export function mayUse(module: ConsoleModule, viewer: Viewer): boolean {
  if (
    module.permission !== undefined &&
    viewer.orgPermissions !== null &&
    !viewer.orgPermissions.includes(module.permission)
  ) {
    return false;
  }
  switch (module.access ?? 'everyone') {
    case 'everyone':
      return true;
    case 'signedIn':
      return viewer.status === 'signedIn';
    case 'operator':
      return viewer.isOperator;
    case 'devMailbox':
      return viewer.isOperator || viewer.loopback;
  }
}

/**
 * One link per module the viewer may use, grouped by section. The current page's link is marked
 * with `aria-current="page"`.
 */
export function NavList({ modules, viewer, onNavigate }: NavListProps) {
  const visible = modules.filter(
    (module) => module.inNavigation !== false && mayUse(module, viewer),
  );
  return (
    <>
      {kSections.map((section) => {
        const items = visible.filter((module) => (module.section ?? 'main') === section.id);
        if (items.length === 0) return null;
        const headingId = `nav-section-${section.id}`;
        return (
          <div key={section.id}>
            {section.title !== null && (
              // Beside the list, not inside it: a list may hold only list items.
              <ListSubheader id={headingId} component="div" disableSticky>
                {section.title}
              </ListSubheader>
            )}
            <List
              dense={false}
              aria-labelledby={section.title === null ? undefined : headingId}
              sx={section.title === null ? undefined : { pt: 0 }}
            >
              {items.map((module) => (
                <ListItem key={module.id} disablePadding>
                  <ListItemButton
                    component={NavLink}
                    to={module.path}
                    // Exact: /org must not light up on /org/members too.
                    end
                    onClick={onNavigate}
                    sx={{ '&.active': { bgcolor: 'action.selected' } }}
                  >
                    <ListItemIcon aria-hidden>{module.icon}</ListItemIcon>
                    <ListItemText primary={module.label} />
                  </ListItemButton>
                </ListItem>
              ))}
            </List>
          </div>
        );
      })}
    </>
  );
}
