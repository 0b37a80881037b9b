import Box from '@mui/material/Box';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import type { ReactNode } from 'react';
import { PageHeader } from '../../components/PageHeader';

interface AuthCardProps {
  title: string;
  subtitle?: string;
  children: ReactNode;
}

/** The narrow, centred frame of the sign-in, sign-up and mailed-link pages. */
export function AuthCard({ title, subtitle, children }: AuthCardProps) {
  return (
    <Box sx={{ maxWidth: 460, mx: 'auto', mt: { xs: 1, sm: 4 } }}>
      <PageHeader title={title} subtitle={subtitle} />
      <Card variant="outlined">
        <CardContent>{children}</CardContent>
      </Card>
    </Box>
  );
}
