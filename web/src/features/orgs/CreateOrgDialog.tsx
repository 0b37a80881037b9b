import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Stack from '@mui/material/Stack';
import { useId, useState, type SyntheticEvent } from 'react';
import { problemOf } from '../../api/problem';
import { orgSelected } from '../../api/session';
import { useAppDispatch } from '../../app/hooks';
import { FormTextField } from '../../components/FormTextField';
import { ProblemAlert } from '../../components/ProblemAlert';
import { useCreateOrgMutation } from './orgsApi';
import type { Org } from './types';

interface CreateOrgDialogProps {
  open: boolean;
  onClose: () => void;
  onCreated?: (org: Org) => void;
}

/** Names a new organization; the caller becomes its owner and the console switches to it. */
export function CreateOrgDialog({ open, onClose, onCreated }: CreateOrgDialogProps) {
  const titleId = useId();
  const dispatch = useAppDispatch();
  const [create, state] = useCreateOrgMutation();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const problem = problemOf(state);
  const close = () => {
    state.reset();
    setName('');
    setSlug('');
    onClose();
  };
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    const trimmedSlug = slug.trim();
    void create({ name: name.trim(), ...(trimmedSlug === '' ? {} : { slug: trimmedSlug }) })
      .unwrap()
      .then((org) => {
        dispatch(orgSelected(org.id));
        close();
        onCreated?.(org);
      })
      .catch(() => undefined);
  };
  return (
    <Dialog open={open} onClose={close} aria-labelledby={titleId} fullWidth maxWidth="xs">
      <form onSubmit={submit} noValidate>
        <DialogTitle id={titleId}>Create an organization</DialogTitle>
        <DialogContent>
          <Stack spacing={2} sx={{ pt: 1 }}>
            {problem !== undefined && <ProblemAlert problem={problem} />}
            <FormTextField
              label="Organization name"
              value={name}
              onChange={setName}
              required
              problem={problem}
              pointer="/name"
            />
            <FormTextField
              label="Slug"
              value={slug}
              onChange={setSlug}
              problem={problem}
              pointer="/slug"
              hint="Optional; made from the name when empty."
            />
          </Stack>
        </DialogContent>
        <DialogActions>
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="contained" loading={state.isLoading}>
            Create
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
