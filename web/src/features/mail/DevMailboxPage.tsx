import RefreshIcon from '@mui/icons-material/Refresh';
import Accordion from '@mui/material/Accordion';
import AccordionDetails from '@mui/material/AccordionDetails';
import AccordionSummary from '@mui/material/AccordionSummary';
import ExpandMoreIcon from '@mui/icons-material/ExpandMore';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { toProblem } from '../../api/problem';
import { DateTime } from '../../components/DateTime';
import { LoadingState } from '../../components/LoadingState';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { SectionCard } from '../../components/SectionCard';
import { linkify, localHref } from './linkify';
import { useListMailboxQuery, type MailboxMessage } from './mailApi';

const kLimit = 50;
const kPollingIntervalMs = 5_000;

function MailText({ text }: { text: string }) {
  return (
    <Box
      component="pre"
      sx={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere', fontFamily: 'monospace', m: 0 }}
    >
      {linkify(text).map((part, index) =>
        part.kind === 'text' ? (
          part.text
        ) : (
          // Parts never move, so their index is a stable key.
          <Link key={index} href={localHref(part.href)}>
            {localHref(part.href)}
          </Link>
        ),
      )}
    </Box>
  );
}

function Message({ message }: { message: MailboxMessage }) {
  return (
    <Accordion disableGutters variant="outlined">
      <AccordionSummary expandIcon={<ExpandMoreIcon />}>
        <Stack sx={{ minWidth: 0 }}>
          <Typography sx={{ fontWeight: 600, overflowWrap: 'anywhere' }}>
            {message.subject}
          </Typography>
          <Typography variant="body2" color="text.secondary">
            To {message.to} · <DateTime value={message.created_at} />
          </Typography>
        </Stack>
      </AccordionSummary>
      <AccordionDetails>
        <MailText text={message.text} />
      </AccordionDetails>
    </Accordion>
  );
}

/**
 * Mail the server kept instead of sending (no `mail.smtp_url`): verification and reset links,
 * invitations. The links in it are live, so the server shows it only to operators and loopback
 * clients.
 */
export default function DevMailboxPage() {
  const [to, setTo] = useState('');
  const mailbox = useListMailboxQuery(
    { to: to.trim(), limit: kLimit },
    { pollingInterval: kPollingIntervalMs, skipPollingIfUnfocused: true },
  );
  return (
    <>
      <PageHeader
        title="Dev mailbox"
        subtitle="Mail kept by this server instead of being sent."
        actions={
          <Button
            variant="outlined"
            startIcon={<RefreshIcon />}
            loading={mailbox.isFetching}
            loadingPosition="start"
            onClick={() => void mailbox.refetch()}
          >
            Refresh
          </Button>
        }
      />
      <SectionCard title="Messages">
        <Stack spacing={2}>
          <TextField
            label="Recipient"
            type="email"
            value={to}
            onChange={(event) => {
              setTo(event.target.value);
            }}
            helperText="Only mail to this address; empty for all."
            sx={{ maxWidth: 420 }}
          />
          {mailbox.isError && <ProblemAlert problem={toProblem(mailbox.error)} />}
          {mailbox.data === undefined ? (
            !mailbox.isError && <LoadingState label="Loading mail" />
          ) : mailbox.data.data.length === 0 ? (
            <Typography color="text.secondary">No mail yet.</Typography>
          ) : (
            <div>
              {mailbox.data.data.map((message) => (
                <Message key={message.id} message={message} />
              ))}
            </div>
          )}
        </Stack>
      </SectionCard>
    </>
  );
}
