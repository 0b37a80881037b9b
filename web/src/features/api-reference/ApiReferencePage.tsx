import DownloadOutlined from '@mui/icons-material/DownloadOutlined';
import RefreshIcon from '@mui/icons-material/Refresh';
import Search from '@mui/icons-material/Search';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import InputAdornment from '@mui/material/InputAdornment';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useDeferredValue, useEffect, useMemo, useState } from 'react';
import { useLocation } from 'react-router-dom';
import { toProblem } from '../../api/problem';
import { LoadingState } from '../../components/LoadingState';
import { PageHeader } from '../../components/PageHeader';
import { ProblemAlert } from '../../components/ProblemAlert';
import { SectionCard } from '../../components/SectionCard';
import { kOpenApiPath, useGetApiReferenceQuery } from './apiReferenceApi';
import { OperationItem } from './OperationItem';
import { filterGroups, type ApiReference } from './reference';
import { schemaAnchor, SchemaView } from './SchemaView';

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function ReferenceBody({ reference }: { reference: ApiReference }) {
  const [filter, setFilter] = useState('');
  const deferredFilter = useDeferredValue(filter);
  // Operations opened or closed by hand; any other is open only when the URL's hash names it.
  const [toggled, setToggled] = useState<Record<string, boolean>>({});
  const { hash } = useLocation();
  const target = decodeURIComponent(hash.slice(1));

  const groups = useMemo(
    () => filterGroups(reference.groups, deferredFilter),
    [reference.groups, deferredFilter],
  );
  const shownCount = new Set(groups.flatMap((group) => group.operations.map((op) => op.id))).size;
  const isExpanded = (id: string) => toggled[id] ?? id === target;
  const onToggle = (id: string, expanded: boolean) => {
    setToggled((previous) => ({ ...previous, [id]: expanded }));
  };
  const setAll = (expanded: boolean) => {
    setToggled((previous) => {
      const next = { ...previous };
      for (const group of groups) {
        for (const operation of group.operations) next[operation.id] = expanded;
      }
      return next;
    });
  };

  // A deep link (#get_api_v1_system_info) opens its operation (above) and brings it into view.
  useEffect(() => {
    if (target !== '') {
      document.getElementById(target)?.scrollIntoView({ block: 'start' });
    }
  }, [target]);

  // An operation listed under several tags carries its element id in the first listing only.
  const anchored = new Set<string>();

  return (
    <Stack spacing={2}>
      <Box
        role="search"
        aria-label="Operations"
        sx={{ display: 'flex', flexWrap: 'wrap', alignItems: 'center', gap: 2 }}
      >
        <TextField
          label="Filter operations"
          placeholder="Path, summary or tag"
          type="search"
          size="small"
          value={filter}
          onChange={(event) => {
            setFilter(event.target.value);
          }}
          onKeyDown={(event) => {
            if (event.key === 'Escape') setFilter('');
          }}
          sx={{ flex: '1 1 18rem', maxWidth: '36rem' }}
          slotProps={{
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <Search aria-hidden />
                </InputAdornment>
              ),
            },
          }}
        />
        <Typography role="status" variant="body2" color="text.secondary" sx={{ flexGrow: 1 }}>
          {shownCount === reference.operationCount
            ? plural(reference.operationCount, 'operation', 'operations')
            : `${shownCount} of ${plural(reference.operationCount, 'operation', 'operations')}`}
        </Typography>
        <Stack direction="row" spacing={1}>
          <Button
            size="small"
            onClick={() => {
              setAll(true);
            }}
            disabled={shownCount === 0}
          >
            Expand all
          </Button>
          <Button
            size="small"
            onClick={() => {
              setAll(false);
            }}
            disabled={shownCount === 0}
          >
            Collapse all
          </Button>
        </Stack>
      </Box>

      {groups.length === 0 && (
        <Typography sx={{ py: 2 }}>
          No operation matches “{deferredFilter.trim()}”. Filter by a path (
          <code>/api/v1/system</code>), a word of a summary, or a tag.
        </Typography>
      )}

      {groups.map((group) => (
        <SectionCard key={group.name} title={group.name}>
          {group.description !== undefined && (
            <Typography color="text.secondary" sx={{ mt: -1, mb: 2 }}>
              {group.description}
            </Typography>
          )}
          <div>
            {group.operations.map((operation) => {
              const anchor = !anchored.has(operation.id);
              anchored.add(operation.id);
              return (
                <OperationItem
                  key={operation.id}
                  operation={operation}
                  schemas={reference.schemas}
                  expanded={isExpanded(operation.id)}
                  onToggle={onToggle}
                  anchor={anchor}
                  group={group.name}
                />
              );
            })}
          </div>
        </SectionCard>
      ))}

      {Object.keys(reference.schemas).length > 0 && (
        <SectionCard title="Schemas">
          <Stack spacing={3}>
            {Object.entries(reference.schemas).map(([name, schema]) => (
              <Box key={name} id={schemaAnchor(name)} sx={{ scrollMarginTop: 80 }}>
                <Typography variant="subtitle1" component="h3" sx={{ fontFamily: 'monospace' }}>
                  {name}
                </Typography>
                <SchemaView schema={schema} schemas={reference.schemas} />
              </Box>
            ))}
          </Stack>
        </SectionCard>
      )}
    </Stack>
  );
}

/** Every operation of the server, read from the OpenAPI document it generates from its routes. */
export default function ApiReferencePage() {
  const reference = useGetApiReferenceQuery(undefined);
  const data = reference.data;
  const refresh = () => {
    void reference.refetch();
  };

  return (
    <>
      <PageHeader
        title="API reference"
        subtitle={
          data === undefined
            ? 'Every operation of the Nimbus API, from the server’s OpenAPI document.'
            : `${data.title} ${data.version}: every operation, from the server’s OpenAPI ${data.openapi} document.`
        }
        actions={
          <Stack direction="row" spacing={1}>
            <Button
              variant="outlined"
              startIcon={<DownloadOutlined />}
              href={kOpenApiPath}
              download="openapi.json"
            >
              OpenAPI JSON
            </Button>
            <Button
              variant="outlined"
              startIcon={<RefreshIcon />}
              onClick={refresh}
              loading={reference.isFetching}
              loadingPosition="start"
            >
              Refresh
            </Button>
          </Stack>
        }
      />
      {reference.isError && (
        <Box sx={{ mb: 2 }}>
          <ProblemAlert
            severity={data === undefined ? 'error' : 'warning'}
            problem={
              data === undefined
                ? toProblem(reference.error)
                : {
                    ...toProblem(reference.error),
                    title: `Could not refresh: ${toProblem(reference.error).title}`,
                  }
            }
            onRetry={refresh}
          />
        </Box>
      )}
      {data === undefined ? (
        !reference.isError && <LoadingState label="Loading the API description" />
      ) : (
        <ReferenceBody reference={data} />
      )}
    </>
  );
}
