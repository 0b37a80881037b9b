import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { Link as RouterLink } from 'react-router-dom';
import { AuthCard } from '../identity/AuthCard';

/** Where an application's sign-out (`/oauth2/logout`) ends when it names no page of its own. */
export default function SignedOutPage() {
  return (
    <AuthCard title="Signed out">
      <Stack spacing={2}>
        <Typography>You are signed out of the application.</Typography>
        <Button component={RouterLink} to="/sign-in" variant="contained">
          Sign in to Nimbus
        </Button>
      </Stack>
    </AuthCard>
  );
}
