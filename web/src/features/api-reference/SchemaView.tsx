import Box from '@mui/material/Box';
import Link from '@mui/material/Link';
import Typography from '@mui/material/Typography';
import { refName } from './reference';
import { constraintsOf, nestedObject, typeLabel } from './schemaText';
import type { Schema } from './types';

/** Element id of a named schema in the page's "Schemas" section. */
export function schemaAnchor(name: string): string {
  return `schema-${name}`;
}

const kMonospace = { fontFamily: 'monospace' } as const;
/** Nesting deeper than this is left to the JSON view. */
const kMaxDepth = 8;

/** A schema's type; a named schema (`$ref`) links to its entry in the "Schemas" section. */
export function SchemaType({ schema }: { schema: Schema }) {
  const ref = schema.$ref ?? (schema.items?.$ref === undefined ? undefined : schema.items.$ref);
  const label = typeLabel(schema);
  if (ref === undefined || !ref.startsWith('#/components/schemas/')) {
    return (
      <Typography component="span" variant="body2" color="text.secondary" sx={kMonospace}>
        {label}
      </Typography>
    );
  }
  return (
    <Link href={`#${schemaAnchor(refName(ref))}`} variant="body2" sx={kMonospace}>
      {label}
    </Link>
  );
}

function Constraints({ schema }: { schema: Schema }) {
  const constraints = constraintsOf(schema);
  if (constraints.length === 0) {
    return null;
  }
  return (
    <Typography variant="body2" color="text.secondary" sx={{ overflowWrap: 'anywhere' }}>
      {constraints.join(' · ')}
    </Typography>
  );
}

interface PropertiesProps {
  schema: Schema;
  depth: number;
}

/** An object's properties as a nested list: name, type, required, limits, description. */
function Properties({ schema, depth }: PropertiesProps) {
  const required = new Set(schema.required ?? []);
  const entries = Object.entries(schema.properties ?? {});
  if (entries.length === 0) {
    return (
      <Typography variant="body2" color="text.secondary">
        An object with no listed properties.
      </Typography>
    );
  }
  return (
    <Box
      component="ul"
      sx={{
        listStyle: 'none',
        m: 0,
        p: 0,
        ...(depth > 0 && { pl: 2, ml: 0.5, borderLeft: 1, borderColor: 'divider' }),
      }}
    >
      {entries.map(([name, property]) => {
        const nested = property.$ref === undefined ? nestedObject(property) : undefined;
        return (
          <Box component="li" key={name} sx={{ py: 0.75 }}>
            <Box sx={{ display: 'flex', flexWrap: 'wrap', alignItems: 'baseline', columnGap: 1 }}>
              <Typography
                component="code"
                variant="body2"
                sx={{ ...kMonospace, fontWeight: 600, overflowWrap: 'anywhere' }}
              >
                {name}
              </Typography>
              <SchemaType schema={property} />
              {required.has(name) && (
                <Typography component="span" variant="caption" color="error">
                  required
                </Typography>
              )}
              {property.deprecated === true && (
                <Typography component="span" variant="caption" color="warning">
                  deprecated
                </Typography>
              )}
            </Box>
            {property.description !== undefined && (
              <Typography variant="body2">{property.description}</Typography>
            )}
            <Constraints schema={property} />
            {nested !== undefined && depth < kMaxDepth && (
              <Properties schema={nested} depth={depth + 1} />
            )}
          </Box>
        );
      })}
    </Box>
  );
}

interface SchemaViewProps {
  schema: Schema;
  /** `components.schemas`, to unfold a top-level `$ref`. */
  schemas: Record<string, Schema>;
  /** Whether to offer the schema's JSON as well (collapsed). */
  showJson?: boolean;
}

/**
 * A JSON Schema as a person reads it: the type, then for an object (or an array of objects) its
 * properties, recursively. A named schema at the top is unfolded; named schemas inside link to the
 * "Schemas" section instead, which also keeps recursive schemas finite.
 */
export function SchemaView({ schema, schemas, showJson = true }: SchemaViewProps) {
  const named = schema.$ref?.startsWith('#/components/schemas/')
    ? schemas[refName(schema.$ref)]
    : undefined;
  const shown = named ?? schema;
  const object = nestedObject(shown);
  return (
    <Box>
      <Box sx={{ display: 'flex', flexWrap: 'wrap', alignItems: 'baseline', columnGap: 1 }}>
        <SchemaType schema={schema} />
        {named !== undefined && named.type !== undefined && (
          <Typography component="span" variant="body2" color="text.secondary" sx={kMonospace}>
            ({typeLabel(named)})
          </Typography>
        )}
      </Box>
      {shown.description !== undefined && (
        <Typography variant="body2">{shown.description}</Typography>
      )}
      <Constraints schema={shown} />
      {object !== undefined && (
        <Box sx={{ mt: 1 }}>
          <Properties schema={object} depth={0} />
        </Box>
      )}
      {showJson && (
        <Box component="details" sx={{ mt: 1 }}>
          <Box
            component="summary"
            sx={{
              cursor: 'pointer',
              typography: 'body2',
              color: 'primary.main',
              width: 'fit-content',
            }}
          >
            JSON Schema
          </Box>
          <Box
            component="pre"
            sx={{
              ...kMonospace,
              fontSize: '0.8125rem',
              m: 0,
              mt: 1,
              p: 1.5,
              borderRadius: 1,
              bgcolor: 'action.hover',
              // Wrapped rather than scrolled, so it needs no keyboard focus to be read.
              whiteSpace: 'pre-wrap',
              overflowWrap: 'anywhere',
            }}
          >
            {JSON.stringify(schema, null, 2)}
          </Box>
        </Box>
      )}
    </Box>
  );
}
