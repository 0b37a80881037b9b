import ExpandMore from '@mui/icons-material/ExpandMore';
import LinkOutlined from '@mui/icons-material/LinkOutlined';
import LockOutlined from '@mui/icons-material/LockOutlined';
import PublicOutlined from '@mui/icons-material/PublicOutlined';
import Accordion from '@mui/material/Accordion';
import AccordionDetails from '@mui/material/AccordionDetails';
import AccordionSummary from '@mui/material/AccordionSummary';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { Fragment, type ReactNode } from 'react';
import { Link as RouterLink } from 'react-router-dom';
import type { ContentView, OperationView, ParameterView, ResponseView } from './reference';
import { SchemaType, SchemaView } from './SchemaView';
import type { Schema } from './types';

const kMonospace = { fontFamily: 'monospace' } as const;

/** Outlined, so that the text keeps AA contrast in both colour schemes. */
const kMethodColor = {
  GET: 'primary',
  POST: 'success',
  PUT: 'secondary',
  PATCH: 'secondary',
  DELETE: 'error',
} as const;

export function MethodChip({ method }: { method: string }) {
  const color =
    method in kMethodColor ? kMethodColor[method as keyof typeof kMethodColor] : 'default';
  return (
    <Chip
      size="small"
      variant="outlined"
      color={color}
      label={method}
      sx={{ ...kMonospace, fontWeight: 700, minWidth: 64, flexShrink: 0 }}
    />
  );
}

/** "Requires org.members.read" or "Public", with an icon, so it reads the same without colour. */
export function PermissionChip({ permission }: { permission: string | undefined }) {
  return permission === undefined ? (
    <Chip size="small" variant="outlined" icon={<PublicOutlined />} label="Public" />
  ) : (
    <Chip
      size="small"
      variant="outlined"
      icon={<LockOutlined />}
      label={`Requires ${permission}`}
      sx={{ maxWidth: '100%' }}
    />
  );
}

/** A path with a line-break opportunity after each slash, so long paths wrap where they read well. */
function BreakablePath({ path }: { path: string }) {
  const parts = path.split('/');
  return parts.map((part, index) => (
    // The parts of one path never reorder, so their position is a stable key.
    <Fragment key={index}>
      {part}
      {index < parts.length - 1 && (
        <>
          /<wbr />
        </>
      )}
    </Fragment>
  ));
}

function SubHeading({ children }: { children: ReactNode }) {
  return (
    <Typography variant="subtitle2" component="h4" sx={{ mb: 1 }}>
      {children}
    </Typography>
  );
}

function ParametersTable({ operation }: { operation: OperationView }) {
  const label = `Parameters of ${operation.method} ${operation.path}`;
  return (
    // A region of its own, focusable, so that a keyboard can scroll it on a narrow screen.
    <TableContainer role="region" aria-label={label} tabIndex={0}>
      <Table size="small" aria-label={label}>
        <TableHead>
          <TableRow>
            <TableCell>Name</TableCell>
            <TableCell>In</TableCell>
            <TableCell>Type</TableCell>
            <TableCell>Description</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {operation.parameters.map((parameter: ParameterView) => (
            <TableRow key={`${parameter.in}/${parameter.name}`}>
              <TableCell>
                <Typography
                  component="code"
                  variant="body2"
                  sx={{ ...kMonospace, fontWeight: 600 }}
                >
                  {parameter.name}
                </Typography>
                {parameter.required && (
                  <Typography component="span" variant="caption" color="error" sx={{ ml: 1 }}>
                    required
                  </Typography>
                )}
              </TableCell>
              <TableCell>{parameter.in}</TableCell>
              <TableCell>
                {parameter.schema === undefined ? '—' : <SchemaType schema={parameter.schema} />}
              </TableCell>
              <TableCell>
                {parameter.deprecated && 'Deprecated. '}
                {parameter.description ?? ''}
                {parameter.schema?.enum !== undefined && (
                  <Typography variant="body2" color="text.secondary">
                    One of {parameter.schema.enum.map((value) => JSON.stringify(value)).join(', ')}
                  </Typography>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

function MediaType({ mediaType }: { mediaType: string }) {
  return (
    <Typography component="code" variant="body2" color="text.secondary" sx={kMonospace}>
      {mediaType}
    </Typography>
  );
}

function Contents({
  content,
  schemas,
}: {
  content: ContentView[];
  schemas: Record<string, Schema>;
}) {
  return (
    <Stack spacing={1.5}>
      {content.map(({ mediaType, schema }) => (
        <Box key={mediaType}>
          <MediaType mediaType={mediaType} />
          {schema === undefined ? (
            <Typography variant="body2" color="text.secondary">
              No schema given.
            </Typography>
          ) : (
            <Box sx={{ mt: 0.5 }}>
              <SchemaView schema={schema} schemas={schemas} />
            </Box>
          )}
        </Box>
      ))}
    </Stack>
  );
}

function StatusCode({ status }: { status: string }) {
  return (
    <Typography component="span" variant="body2" sx={{ ...kMonospace, fontWeight: 700, mr: 1 }}>
      {status}
    </Typography>
  );
}

/** Problem answers that share a description and body, e.g. 4XX and 5XX, as one line. */
function groupProblems(problems: ResponseView[]): { statuses: string[]; response: ResponseView }[] {
  const groups: { key: string; statuses: string[]; response: ResponseView }[] = [];
  for (const response of problems) {
    const key = JSON.stringify([response.description, response.content]);
    const group = groups.find((candidate) => candidate.key === key);
    if (group === undefined) {
      groups.push({ key, statuses: [response.status], response });
    } else {
      group.statuses.push(response.status);
    }
  }
  return groups;
}

function Responses({
  operation,
  schemas,
}: {
  operation: OperationView;
  schemas: Record<string, Schema>;
}) {
  return (
    <Stack spacing={1.5}>
      {operation.success !== undefined && (
        <Box>
          <Typography variant="body2">
            <StatusCode status={operation.success.status} />
            {operation.success.description}
          </Typography>
          <Box sx={{ mt: 0.5, pl: 1 }}>
            {operation.success.content.length === 0 ? (
              <Typography variant="body2" color="text.secondary">
                The document gives no schema for this answer.
              </Typography>
            ) : (
              <Contents content={operation.success.content} schemas={schemas} />
            )}
          </Box>
        </Box>
      )}
      {groupProblems(operation.problems).map(({ statuses, response }) => (
        <Box key={statuses.join()}>
          <Typography variant="body2">
            <StatusCode status={statuses.join(', ')} />
            {response.description}
          </Typography>
          {response.content.map(({ mediaType, schema }) => (
            <Box
              key={mediaType}
              sx={{
                pl: 1,
                display: 'flex',
                flexWrap: 'wrap',
                columnGap: 1,
                alignItems: 'baseline',
              }}
            >
              <MediaType mediaType={mediaType} />
              {schema !== undefined && <SchemaType schema={schema} />}
            </Box>
          ))}
        </Box>
      ))}
    </Stack>
  );
}

interface OperationItemProps {
  operation: OperationView;
  schemas: Record<string, Schema>;
  expanded: boolean;
  onToggle: (id: string, expanded: boolean) => void;
  /** Whether this item carries the operation's element id (only one listing of it may). */
  anchor: boolean;
  /** The tag it is listed under, to keep element ids unique when it is listed under several. */
  group: string;
}

/**
 * One operation: a heading button (method, path, summary, permission) that unfolds what it takes
 * and answers.
 */
export function OperationItem({
  operation,
  schemas,
  expanded,
  onToggle,
  anchor,
  group,
}: OperationItemProps) {
  const showSummary = operation.summary !== `${operation.method} ${operation.path}`;
  const idBase = anchor ? operation.id : `${group}--${operation.id}`;
  return (
    <Accordion
      id={anchor ? operation.id : undefined}
      expanded={expanded}
      onChange={(_event, isExpanded) => {
        onToggle(operation.id, isExpanded);
      }}
      disableGutters
      variant="outlined"
      slotProps={{ transition: { unmountOnExit: true } }}
      // Below the fixed app bar when scrolled to by a deep link.
      sx={{ scrollMarginTop: (theme) => theme.spacing(10) }}
    >
      <AccordionSummary
        expandIcon={<ExpandMore />}
        id={`${idBase}-summary`}
        // The accordion gives its region this id, labelled by the summary.
        aria-controls={`${idBase}-details`}
        sx={{ '& .MuiAccordionSummary-content': { minWidth: 0 } }}
      >
        <Box
          sx={{
            display: 'flex',
            flexWrap: 'wrap',
            alignItems: 'center',
            columnGap: 1.5,
            rowGap: 0.5,
            minWidth: 0,
            width: '100%',
          }}
        >
          {/* Method and path stay on one line; the path breaks after a slash when it must. */}
          <Box
            sx={{
              display: 'flex',
              alignItems: 'center',
              columnGap: 1.5,
              minWidth: 0,
              maxWidth: '100%',
            }}
          >
            <MethodChip method={operation.method} />
            <Typography
              component="code"
              sx={{
                ...kMonospace,
                fontWeight: 500,
                minWidth: 0,
                overflowWrap: 'anywhere',
                textDecoration: operation.deprecated ? 'line-through' : 'none',
              }}
            >
              <BreakablePath path={operation.path} />
            </Typography>
          </Box>
          {showSummary && (
            <Typography variant="body2" color="text.secondary">
              {operation.summary}
            </Typography>
          )}
          {/* Pushed to the end of the line, or of the next one when it wraps. */}
          <Box sx={{ display: 'flex', flexWrap: 'wrap', gap: 1, ml: 'auto' }}>
            {operation.deprecated && (
              <Chip size="small" color="warning" variant="outlined" label="Deprecated" />
            )}
            <PermissionChip permission={operation.permission} />
          </Box>
        </Box>
      </AccordionSummary>
      <AccordionDetails>
        <Stack spacing={2.5}>
          <Box
            sx={{
              display: 'flex',
              flexWrap: 'wrap',
              alignItems: 'baseline',
              justifyContent: 'space-between',
              gap: 1,
            }}
          >
            <Typography variant="body2">
              {operation.permission === undefined ? (
                'Public: no sign-in needed.'
              ) : (
                <>
                  Requires the permission{' '}
                  <Typography component="code" variant="body2" sx={kMonospace}>
                    {operation.permission}
                  </Typography>{' '}
                  (bearer token).
                </>
              )}
            </Typography>
            <Link
              component={RouterLink}
              to={`#${operation.id}`}
              variant="body2"
              title="Link to this operation"
              sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.5 }}
            >
              <LinkOutlined fontSize="small" aria-hidden />#{operation.id}
            </Link>
          </Box>
          {operation.deprecated && (
            <Alert severity="warning">
              Deprecated: the server still answers it, but it will go away in a later version.
            </Alert>
          )}
          {operation.description !== undefined && (
            <Typography variant="body2">{operation.description}</Typography>
          )}
          {operation.parameters.length > 0 && (
            <Box>
              <SubHeading>Parameters</SubHeading>
              <ParametersTable operation={operation} />
            </Box>
          )}
          {operation.requestBody !== undefined && (
            <Box>
              <SubHeading>
                Request body{operation.requestBody.required ? '' : ' (optional)'}
              </SubHeading>
              {operation.requestBody.description !== undefined && (
                <Typography variant="body2">{operation.requestBody.description}</Typography>
              )}
              <Contents content={operation.requestBody.content} schemas={schemas} />
            </Box>
          )}
          <Box>
            <SubHeading>Responses</SubHeading>
            <Responses operation={operation} schemas={schemas} />
          </Box>
        </Stack>
      </AccordionDetails>
    </Accordion>
  );
}
