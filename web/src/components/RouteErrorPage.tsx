import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import { useRouteError } from 'react-router-dom';

/**
 * The last resort when rendering a page throws (for example a page's code could not be loaded after
 * an upgrade replaced the assets). Reloading fetches the new index.html.
 */
export function RouteErrorPage() {
  const error = useRouteError();
  const message = error instanceof Error ? error.message : 'The page could not be shown.';
  return (
    <Box component="main" sx={{ p: 3 }}>
      <title>Error · Nimbus</title>
      <Alert
        severity="error"
        action={
          <Button
            color="inherit"
            size="small"
            onClick={() => {
              window.location.reload();
            }}
          >
            Reload
          </Button>
        }
      >
        <AlertTitle>Something went wrong in the Nimbus console</AlertTitle>
        {message}
      </Alert>
    </Box>
  );
}
