import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import ListItemButton from '@mui/material/ListItemButton';
import ListItemIcon from '@mui/material/ListItemIcon';
import ListItemText from '@mui/material/ListItemText';
import { NavLink } from 'react-router-dom';
import type { ConsoleModule } from '../app/consoleModule';

interface NavListProps {
  modules: readonly ConsoleModule[];
  /** Called after a link is followed (closes the modal drawer on narrow screens). */
  onNavigate: () => void;
}

/** One link per module. The current page's link is marked with `aria-current="page"`. */
export function NavList({ modules, onNavigate }: NavListProps) {
  return (
    <List>
      {modules.map((module) => (
        <ListItem key={module.id} disablePadding>
          <ListItemButton
            component={NavLink}
            to={module.path}
            onClick={onNavigate}
            sx={{ '&.active': { bgcolor: 'action.selected' } }}
          >
            <ListItemIcon aria-hidden>{module.icon}</ListItemIcon>
            <ListItemText primary={module.label} />
          </ListItemButton>
        </ListItem>
      ))}
    </List>
  );
}
