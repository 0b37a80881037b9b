import { createTheme } from '@mui/material/styles';

/**
 * The console's one theme. Light and dark colour schemes are both generated as CSS variables and
 * picked by the `prefers-color-scheme` media query, so the console follows the OS setting from the
 * first paint, with no script and no flash.
 */
export const theme = createTheme({
  cssVariables: { colorSchemeSelector: 'media' },
  colorSchemes: {
    light: { palette: { primary: { main: '#1565c0' } } },
    dark: { palette: { primary: { main: '#90caf9' } } },
  },
  shape: { borderRadius: 8 },
});
