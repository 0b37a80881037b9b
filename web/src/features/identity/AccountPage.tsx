import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { problemOf, toProblem } from '../../api/problem';
import { sessionEnded } from '../../api/session';
import { useAppDispatch } from '../../app/hooks';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { DateTime } from '../../components/DateTime';
import { FormTextField } from '../../components/FormTextField';
import { LoadingState } from '../../components/LoadingState';
import { MutationForm } from '../../components/MutationForm';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { PropertyList } from '../../components/PropertyList';
import { SectionCard } from '../../components/SectionCard';
import {
  useChangeEmailMutation,
  useChangePasswordMutation,
  useDeleteMeMutation,
  useGetMeQuery,
  useUpdateMeMutation,
} from './identityApi';
import { ResendVerification } from './ResendVerification';
import type { Me } from './types';

function ProfileCard({ me }: { me: Me }) {
  const [update, state] = useUpdateMeMutation();
  const [name, setName] = useState(me.name);
  const problem = problemOf(state);
  return (
    <SectionCard title="Profile">
      <Stack spacing={2}>
        <PropertyList
          properties={[
            { term: 'Email', value: me.email },
            { term: 'Verified', value: me.email_verified ? 'Yes' : 'Not yet' },
            { term: 'Member since', value: <DateTime value={me.created_at} /> },
          ]}
        />
        {!me.email_verified && (
          <ResendVerification
            initialEmail={me.email}
            intro="Lost the verification mail, or did its link expire? We can mail you a new one."
          />
        )}
        <MutationForm
          onSubmit={() => {
            void update({ name: name.trim() });
          }}
          problem={problem}
          submitLabel="Save name"
          submitting={state.isLoading}
          notice={state.isSuccess && <Alert severity="success">Your name was saved.</Alert>}
        >
          <FormTextField
            label="Name"
            value={name}
            onChange={setName}
            autoComplete="name"
            problem={problem}
            pointer="/name"
          />
        </MutationForm>
      </Stack>
    </SectionCard>
  );
}

function PasswordCard() {
  const [change, state] = useChangePasswordMutation();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const problem = problemOf(state);
  const submit = () => {
    void change({ current_password: current, new_password: next })
      .unwrap()
      .then(() => {
        setCurrent('');
        setNext('');
      })
      .catch(() => undefined);
  };
  return (
    <SectionCard title="Password">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Change password"
        submitting={state.isLoading}
        intro={
          <Typography variant="body2" color="text.secondary">
            Changing it signs out every other session.
          </Typography>
        }
        notice={state.isSuccess && <Alert severity="success">Your password was changed.</Alert>}
      >
        <FormTextField
          label="Current password"
          type="password"
          value={current}
          onChange={setCurrent}
          autoComplete="current-password"
          required
          problem={problem}
          pointer="/current_password"
        />
        <FormTextField
          label="New password"
          type="password"
          value={next}
          onChange={setNext}
          autoComplete="new-password"
          required
          problem={problem}
          pointer="/new_password"
          hint="At least 12 characters."
        />
      </MutationForm>
    </SectionCard>
  );
}

function EmailCard() {
  const [change, state] = useChangeEmailMutation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sentTo, setSentTo] = useState('');
  const problem = problemOf(state);
  const submit = () => {
    const address = email.trim();
    void change({ new_email: address, password })
      .unwrap()
      .then(() => {
        setSentTo(address);
        setEmail('');
        setPassword('');
      })
      .catch(() => undefined);
  };
  return (
    <SectionCard title="Email address">
      <MutationForm
        onSubmit={submit}
        problem={problem}
        submitLabel="Change email"
        submitting={state.isLoading}
        intro={
          <Typography variant="body2" color="text.secondary">
            The new address takes effect when you open the link we mail to it.
          </Typography>
        }
        notice={
          state.isSuccess && (
            <Alert severity="success">Check {sentTo} for the link that confirms it.</Alert>
          )
        }
      >
        <FormTextField
          label="New email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          required
          problem={problem}
          pointer="/new_email"
        />
        <FormTextField
          label="Current password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="current-password"
          required
          problem={problem}
          pointer="/password"
        />
      </MutationForm>
    </SectionCard>
  );
}

function DeleteAccountCard() {
  const [remove, state] = useDeleteMeMutation();
  const [confirming, setConfirming] = useState(false);
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  return (
    <SectionCard title="Delete account">
      <Stack spacing={2}>
        <Typography>
          Deletes your account, its sessions and its pending links. This cannot be undone.
        </Typography>
        {state.isError && <ProblemAlert problem={toProblem(state.error)} />}
        <div>
          <Button
            color="error"
            variant="outlined"
            loading={state.isLoading}
            onClick={() => {
              setConfirming(true);
            }}
          >
            Delete my account
          </Button>
        </div>
      </Stack>
      <ConfirmDialog
        open={confirming}
        title="Delete your account?"
        text="Your account and everything tied to it are deleted for good."
        confirmLabel="Delete account"
        destructive
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={() => {
          setConfirming(false);
          void remove(undefined)
            .unwrap()
            .then(() => {
              dispatch(sessionEnded());
              navigate('/sign-in');
            })
            .catch(() => undefined);
        }}
      />
    </SectionCard>
  );
}

/** The signed-in account: name, password, and deleting it. */
export default function AccountPage() {
  const me = useGetMeQuery(undefined);
  return (
    <>
      <PageHeader title="Profile" subtitle="Your Nimbus account." />
      {me.data === undefined ? (
        me.isError ? (
          <ProblemAlert problem={toProblem(me.error)} onRetry={() => void me.refetch()} />
        ) : (
          <LoadingState label="Loading your account" />
        )
      ) : (
        <Grid container spacing={2}>
          <Grid size={{ xs: 12, md: 6 }}>
            <ProfileCard me={me.data} />
          </Grid>
          <Grid size={{ xs: 12, md: 6 }}>
            <PasswordCard />
          </Grid>
          <Grid size={{ xs: 12, md: 6 }}>
            <EmailCard />
          </Grid>
          <Grid size={{ xs: 12, md: 6 }}>
            <DeleteAccountCard />
          </Grid>
        </Grid>
      )}
    </>
  );
}
