import AddIcon from '@mui/icons-material/Add';
import BusinessOutlined from '@mui/icons-material/BusinessOutlined';
import CheckIcon from '@mui/icons-material/Check';
import Button from '@mui/material/Button';
import Divider from '@mui/material/Divider';
import ListItemIcon from '@mui/material/ListItemIcon';
import ListItemText from '@mui/material/ListItemText';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import { useId, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { orgSelected } from '../../api/session';
import { useAppDispatch } from '../../app/hooks';
import { CreateOrgDialog } from './CreateOrgDialog';
import { useCurrentOrg } from './useCurrentOrg';

/** The top bar's organization menu: which organization the console works in, and a new one. */
export function OrgSwitcher() {
  const { org, orgs } = useCurrentOrg();
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const menuId = useId();
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const [creating, setCreating] = useState(false);
  const close = () => {
    setAnchor(null);
  };
  return (
    <>
      <Button
        color="inherit"
        startIcon={<BusinessOutlined />}
        aria-label={`Organization: ${org?.name ?? 'none'}`}
        aria-controls={anchor === null ? undefined : menuId}
        aria-haspopup="menu"
        aria-expanded={anchor !== null}
        onClick={(event) => {
          setAnchor(event.currentTarget);
        }}
        sx={{ textTransform: 'none', mr: 1, maxWidth: 220 }}
      >
        <span>{org?.name ?? 'No organization'}</span>
      </Button>
      <Menu id={menuId} anchorEl={anchor} open={anchor !== null} onClose={close}>
        {orgs.map((item) => (
          <MenuItem
            key={item.id}
            selected={item.id === org?.id}
            onClick={() => {
              dispatch(orgSelected(item.id));
              close();
            }}
          >
            <ListItemIcon>{item.id === org?.id && <CheckIcon fontSize="small" />}</ListItemIcon>
            <ListItemText primary={item.name} secondary={item.role} />
          </MenuItem>
        ))}
        {orgs.length > 0 && <Divider />}
        <MenuItem
          onClick={() => {
            close();
            setCreating(true);
          }}
        >
          <ListItemIcon>
            <AddIcon fontSize="small" />
          </ListItemIcon>
          <ListItemText primary="Create organization" />
        </MenuItem>
      </Menu>
      <CreateOrgDialog
        open={creating}
        onClose={() => {
          setCreating(false);
        }}
        onCreated={() => {
          navigate('/org');
        }}
      />
    </>
  );
}
