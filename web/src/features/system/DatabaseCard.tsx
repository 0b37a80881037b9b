import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useId } from 'react';
import { DateTime } from '../../components/DateTime';
import { PropertyList } from '../../components/PropertyList';
import { SectionCard } from '../../components/SectionCard';
import type { SystemInfo } from './types';

/** The database backend and every migration applied to it, in the order the server lists them. */
export function DatabaseCard({ info }: { info: SystemInfo }) {
  const tableHeadingId = useId();
  return (
    <SectionCard title="Database">
      <PropertyList properties={[{ term: 'Backend', value: info.database.backend }]} />
      <Typography id={tableHeadingId} variant="subtitle1" component="h3" sx={{ mt: 3, mb: 1 }}>
        Applied migrations
      </Typography>
      {/* A region of its own, focusable, so that a keyboard can scroll it on a narrow screen. */}
      <TableContainer role="region" aria-labelledby={tableHeadingId} tabIndex={0}>
        <Table size="small" aria-labelledby={tableHeadingId}>
          <TableHead>
            <TableRow>
              <TableCell>Module</TableCell>
              <TableCell align="right">Version</TableCell>
              <TableCell>Name</TableCell>
              <TableCell>Applied at</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {info.migrations.length === 0 ? (
              <TableRow>
                <TableCell colSpan={4}>No migrations have been applied.</TableCell>
              </TableRow>
            ) : (
              info.migrations.map((migration) => (
                <TableRow key={`${migration.module}/${migration.version}`}>
                  <TableCell>{migration.module}</TableCell>
                  <TableCell align="right">{migration.version}</TableCell>
                  <TableCell>{migration.name}</TableCell>
                  <TableCell sx={{ whiteSpace: 'nowrap' }}>
                    <DateTime value={migration.applied_at} />
                  </TableCell>
                </TableRow>
              ))
            )}
          </TableBody>
        </Table>
      </TableContainer>
    </SectionCard>
  );
}
