import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { stubFetch } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { identityDocument, nimbusDocument } from './testdata/sampleDocuments';

const kPath = '/api/v1/openapi.json';

/** How many operations (method + path) a document holds. */
function operationCount(document: typeof nimbusDocument): number {
  return Object.values(document.paths ?? {}).reduce(
    (count, item) => count + Object.keys(item).length,
    0,
  );
}

/** The heading buttons of the listed operations, by their text. */
function operationButtons() {
  return screen
    .getAllByRole('button', { expanded: false })
    .concat(screen.queryAllByRole('button', { expanded: true }))
    .filter((button) => button.closest('.MuiAccordion-root') !== null);
}

function operationButton(path: string, method = 'GET') {
  const button = operationButtons().find(
    (candidate) =>
      within(candidate).queryByText(path, { exact: true }) !== null &&
      within(candidate).queryByText(method, { exact: true }) !== null,
  );
  if (button === undefined) throw new Error(`no operation for ${method} ${path}`);
  return button;
}

/**
 * The region an operation's button unfolds. (Found by `aria-controls` rather than by name: jsdom
 * puts spaces around the line-break opportunities in the path when it computes names, browsers do
 * not; the browser tests find it by name.)
 */
function detailsOf(button: HTMLElement) {
  const region = document.getElementById(button.getAttribute('aria-controls') ?? '');
  if (region === null) throw new Error('the operation is not unfolded');
  expect(region).toHaveRole('region');
  expect(region).toHaveAttribute('aria-labelledby', button.id);
  return region;
}

// Rendering a document's worth of MUI accordions in jsdom is slow on a busy machine.
describe('ApiReferencePage', { timeout: 15_000 }, () => {
  it('lists every operation of the server’s document under its tag', async () => {
    stubFetch({ [kPath]: { status: 200, body: nimbusDocument } });
    renderApp('/api-reference');

    expect(
      await screen.findByRole('heading', { level: 1, name: 'API reference' }),
    ).toBeInTheDocument();
    const system = await screen.findByRole('region', { name: 'system' });
    expect(within(system).getByText('Routes of the system module.')).toBeInTheDocument();
    const paths = Object.keys(nimbusDocument.paths ?? {});
    for (const path of paths) {
      expect(within(system).getAllByText(path, { exact: true })[0]).toBeInTheDocument();
    }
    const count = operationCount(nimbusDocument);
    expect(operationButtons()).toHaveLength(count);
    expect(screen.getByRole('status')).toHaveTextContent(`${count} operations`);
    // Public ones say so, the others name their permission; a summary that only repeats method
    // and path is not shown twice.
    expect(within(operationButton('/healthz')).getByText('Public')).toBeInTheDocument();
    expect(
      within(operationButton('/api/v1/me/password', 'POST')).getByText('Requires account.self'),
    ).toBeInTheDocument();
    expect(screen.getByText('The OpenAPI 3.1 document of this API')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'API reference' })).toHaveAttribute(
      'aria-current',
      'page',
    );
    expect(screen.getByRole('region', { name: 'Schemas' })).toHaveTextContent('Problem');
  });

  it('unfolds an operation: permission, responses, the problem schema', async () => {
    stubFetch({ [kPath]: { status: 200, body: nimbusDocument } });
    renderApp('/api-reference');

    const button = await waitFor(() => operationButton('/api/v1/system/info'));
    expect(button).toHaveAttribute('aria-expanded', 'false');
    await userEvent.click(button);
    expect(button).toHaveAttribute('aria-expanded', 'true');
    const details = detailsOf(button);
    expect(details).toHaveTextContent('Public: no sign-in needed.');
    expect(within(details).getByRole('heading', { level: 4, name: 'Responses' })).toBeVisible();
    expect(details).toHaveTextContent('The document gives no schema for this answer.');
    expect(details).toHaveTextContent('4XX, 5XX');
    expect(within(details).getByRole('link', { name: 'Problem' })).toHaveAttribute(
      'href',
      '#schema-Problem',
    );
    expect(within(details).getByRole('link', { name: '#get_api_v1_system_info' })).toHaveAttribute(
      'href',
      '/api-reference#get_api_v1_system_info',
    );
  });

  it('shows permissions, parameters, request and response schemas, deprecation', async () => {
    stubFetch({ [kPath]: { status: 200, body: identityDocument } });
    renderApp('/api-reference');

    const identity = await screen.findByRole('region', { name: 'identity' });
    expect(within(identity).getByText('Requires org.members.read')).toBeInTheDocument();
    expect(within(identity).getByText('Deprecated')).toBeInTheDocument();

    const listButton = within(identity).getByRole('button', { name: /List members/ });
    await userEvent.click(listButton);
    const list = detailsOf(listButton);
    const parameters = within(list).getByRole('table', { name: /^Parameters of GET/ });
    const rows = within(parameters).getAllByRole('row');
    expect(rows.map((row) => row.textContent)).toEqual([
      'NameInTypeDescription',
      'org_idrequiredpathstring',
      'archivedqueryboolean',
      'limitqueryintegerPage size.',
    ]);
    // The 200 schema: an array of objects, unfolded, with what is required.
    expect(list).toHaveTextContent('array of object');
    expect(list).toHaveTextContent('string | null');
    expect(list).toHaveTextContent('one of "owner", "admin", "member", "viewer"');

    const createButton = operationButton('/api/v1/orgs/{org_id}/members', 'POST');
    await userEvent.click(createButton);
    const create = detailsOf(createButton);
    expect(create).toHaveTextContent('Requires the permission org.members.write (bearer token).');
    expect(within(create).getByRole('alert')).toHaveTextContent('Deprecated');
    expect(within(create).getByRole('heading', { level: 4, name: 'Request body' })).toBeVisible();
    expect(create).toHaveTextContent('at most 254 characters · matches ^[^@]+@[^@]+$');
    expect(create).toHaveTextContent('no other properties');
    expect(within(create).getAllByText('required').length).toBeGreaterThanOrEqual(3);
  });

  it('filters by path, summary or tag, and says when nothing matches', async () => {
    stubFetch({ [kPath]: { status: 200, body: identityDocument } });
    renderApp('/api-reference');

    const filter = await screen.findByRole('searchbox', { name: 'Filter operations' });
    await userEvent.click(filter);
    await userEvent.paste('system/info');
    await waitFor(() => {
      expect(operationButtons()).toHaveLength(1);
    });
    const count = operationCount(identityDocument);
    expect(screen.getByRole('status')).toHaveTextContent(`1 of ${count} operations`);
    expect(screen.queryByRole('region', { name: 'identity' })).not.toBeInTheDocument();

    await userEvent.clear(filter);
    await userEvent.paste('identity');
    await waitFor(() => {
      expect(operationButtons()).toHaveLength(2);
    });

    await userEvent.type(filter, ' xyz');
    expect(await screen.findByText(/No operation matches/)).toBeInTheDocument();

    await userEvent.keyboard('{Escape}');
    expect(filter).toHaveValue('');
    await waitFor(() => {
      expect(operationButtons()).toHaveLength(count);
    });
  });

  it('opens the operation a deep link names', async () => {
    stubFetch({ [kPath]: { status: 200, body: nimbusDocument } });
    renderApp('/api-reference#get_api_v1_system_info');

    const button = await waitFor(() => operationButton('/api/v1/system/info'));
    expect(button).toHaveAttribute('aria-expanded', 'true');
    expect(operationButton('/healthz')).toHaveAttribute('aria-expanded', 'false');
    expect(document.getElementById('get_api_v1_system_info')).toContainElement(button);
  });

  it('shows the server’s problem when the document cannot be had, and retries', async () => {
    let fail = true;
    const fetchMock = stubFetch({
      [kPath]: () =>
        fail
          ? {
              status: 503,
              body: {
                type: 'https://nimbus.dev/problems/unavailable',
                title: 'Service unavailable',
                status: 503,
                request_id: 'req-42',
              },
            }
          : { status: 200, body: nimbusDocument },
    });
    renderApp('/api-reference');

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Service unavailable (503)');
    expect(alert).toHaveTextContent('req-42');
    fail = false;
    await userEvent.click(within(alert).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByRole('region', { name: 'system' })).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it('says so when the answer is not an OpenAPI document', async () => {
    stubFetch({ [kPath]: { status: 200, body: { hello: 'world' } } });
    renderApp('/api-reference');
    expect(await screen.findByRole('alert')).toHaveTextContent('is not an OpenAPI document');
  });
});
