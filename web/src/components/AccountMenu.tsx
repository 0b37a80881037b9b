import AccountCircle from '@mui/icons-material/AccountCircle';
import Button from '@mui/material/Button';
import Divider from '@mui/material/Divider';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import { useId, useState } from 'react';
import { Link as RouterLink, useNavigate } from 'react-router-dom';
import { signOut } from '../api/session';
import { useAppStore } from '../app/hooks';
import type { Viewer } from '../app/viewer';

interface AccountMenuProps {
  viewer: Viewer;
}

/** The top bar's end: "Sign in" for visitors, the account's menu (and "Sign out") otherwise. */
export function AccountMenu({ viewer }: AccountMenuProps) {
  const store = useAppStore();
  const navigate = useNavigate();
  const menuId = useId();
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const close = () => {
    setAnchor(null);
  };

  if (viewer.status === 'unknown') return null;
  if (viewer.status === 'signedOut') {
    return (
      <Button color="inherit" component={RouterLink} to="/sign-in">
        Sign in
      </Button>
    );
  }
  const label = viewer.me === undefined ? 'Account' : viewer.me.name || viewer.me.email;
  return (
    <>
      <Button
        color="inherit"
        startIcon={<AccountCircle />}
        aria-controls={anchor === null ? undefined : menuId}
        aria-haspopup="menu"
        aria-expanded={anchor !== null}
        onClick={(event) => {
          setAnchor(event.currentTarget);
        }}
        sx={{ textTransform: 'none', maxWidth: 240 }}
      >
        <span>{label}</span>
      </Button>
      <Menu id={menuId} anchorEl={anchor} open={anchor !== null} onClose={close}>
        <MenuItem component={RouterLink} to="/account" onClick={close}>
          Profile
        </MenuItem>
        <MenuItem component={RouterLink} to="/account/security" onClick={close}>
          Security
        </MenuItem>
        <Divider />
        <MenuItem
          onClick={() => {
            close();
            void signOut(store).then(() => {
              navigate('/sign-in');
            });
          }}
        >
          Sign out
        </MenuItem>
      </Menu>
    </>
  );
}
