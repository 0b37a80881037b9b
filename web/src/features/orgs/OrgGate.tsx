import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import { useState, type ReactNode } from 'react';
import { LoadingState } from '../../components/LoadingState';
import { CreateOrgDialog } from './CreateOrgDialog';
import { useCurrentOrg, type CurrentOrg } from './useCurrentOrg';

interface OrgGateProps {
  /**
   * A permission the page needs in the current organization, and what to say to those whose role
   * lacks it: "does not manage API keys" (after "Your role in <organization>").
   */
  requires?: { permission: string; missing: string };
  /** The page for the current organization. */
  children: (current: CurrentOrg & { org: NonNullable<CurrentOrg['org']> }) => ReactNode;
}

/**
 * Renders an organization page once there is a current organization (and the caller's role there
 * has the permission the page `requires`); offers to create one when there is none.
 */
export function OrgGate({ requires, children }: OrgGateProps) {
  const current = useCurrentOrg();
  const [creating, setCreating] = useState(false);
  if (current.loading) return <LoadingState label="Loading your organizations" />;
  if (current.org === undefined) {
    return (
      <>
        <Typography sx={{ mb: 2 }}>
          You are not in any organization yet. Create one, or accept an invitation from the link you
          were mailed.
        </Typography>
        <Button
          variant="contained"
          onClick={() => {
            setCreating(true);
          }}
        >
          Create organization
        </Button>
        <CreateOrgDialog
          open={creating}
          onClose={() => {
            setCreating(false);
          }}
        />
      </>
    );
  }
  if (requires !== undefined && !current.can(requires.permission)) {
    return (
      <Typography>
        Your role in {current.org.name} {requires.missing}.
      </Typography>
    );
  }
  return children({ ...current, org: current.org });
}
