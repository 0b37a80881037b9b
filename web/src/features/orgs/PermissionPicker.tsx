import Checkbox from '@mui/material/Checkbox';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormGroup from '@mui/material/FormGroup';
import FormHelperText from '@mui/material/FormHelperText';
import FormLabel from '@mui/material/FormLabel';
import Typography from '@mui/material/Typography';
import type { PermissionInfo } from './types';

interface PermissionPickerProps {
  label: string;
  permissions: PermissionInfo[];
  selected: string[];
  onChange: (selected: string[]) => void;
  error?: string;
}

/** A checkbox per permission, grouped in one labelled fieldset. */
export function PermissionPicker({
  label,
  permissions,
  selected,
  onChange,
  error,
}: PermissionPickerProps) {
  return (
    <FormControl component="fieldset" error={error !== undefined} variant="standard">
      <FormLabel component="legend">{label}</FormLabel>
      <FormGroup>
        {permissions.map((permission) => (
          <FormControlLabel
            key={permission.name}
            control={
              <Checkbox
                checked={selected.includes(permission.name)}
                onChange={(event) => {
                  onChange(
                    event.target.checked
                      ? [...selected, permission.name]
                      : selected.filter((name) => name !== permission.name),
                  );
                }}
              />
            }
            label={
              <span>
                <Typography component="span" sx={{ fontFamily: 'monospace' }}>
                  {permission.name}
                </Typography>
                {permission.description !== '' && (
                  <Typography component="span" variant="body2" color="text.secondary">
                    {' '}
                    — {permission.description}
                  </Typography>
                )}
              </span>
            }
          />
        ))}
      </FormGroup>
      {error !== undefined && <FormHelperText>{error}</FormHelperText>}
    </FormControl>
  );
}
