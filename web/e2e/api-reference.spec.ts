import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import {
  browserComplaints,
  expectNoAxeViolations,
  keepScreenshot,
  openFromNavigation,
} from './helpers';

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId: string; summary?: string }>>;
}

const kMethods = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'];

/** Every operation the server's own document describes, as "GET /healthz" with its id. */
async function documentedOperations(request: APIRequestContext) {
  const response = await request.get('/api/v1/openapi.json');
  expect(response.status()).toBe(200);
  const document = (await response.json()) as OpenApiDocument;
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => kMethods.includes(method))
      .map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        id: operation.operationId,
      })),
  );
}

/** The operations' heading buttons on the page (the accordions' summaries). */
function operationButtons(page: Page) {
  return page.locator('.MuiAccordionSummary-root');
}

test('the API reference lists what the server documents, accessibly', async ({
  page,
  request,
}, testInfo) => {
  // Every operation is checked and axe scans the whole page: more than the default on a busy
  // machine.
  test.slow();
  const operations = await documentedOperations(request);
  const paths = operations.map((op) => op.path);
  expect(paths).toContain('/api/v1/system/info');
  expect(paths).toContain('/healthz');

  const complaints = browserComplaints(page);

  await openFromNavigation(page, 'API reference');
  await expect(page).toHaveURL(/\/api-reference$/);
  await expect(page.getByRole('heading', { level: 1, name: 'API reference' })).toBeVisible();
  await expect(page).toHaveTitle('API reference · Nimbus');

  // Exactly the operations of the document, each under its id.
  await expect(operationButtons(page)).toHaveCount(operations.length);
  for (const { method, path, id } of operations) {
    const operation = page.locator(`[id="${id}"]`);
    await expect(operation.getByRole('button').first()).toContainText(method);
    await expect(operation.getByText(path, { exact: true })).toBeVisible();
  }
  await expect(page.getByRole('status')).toHaveText(`${operations.length} operations`);

  // Open one by keyboard: its permission and responses show.
  const info = page.locator('[id="get_api_v1_system_info"]').getByRole('button').first();
  await info.focus();
  await page.keyboard.press('Enter');
  await expect(info).toHaveAttribute('aria-expanded', 'true');
  const details = page.getByRole('region', { name: /\/api\/v1\/system\/info/ });
  await expect(details.getByText('Public: no sign-in needed.')).toBeVisible();
  await expect(details.getByRole('heading', { level: 4, name: 'Responses' })).toBeVisible();
  await expect(details.getByText('application/problem+json')).toBeVisible();

  await expectNoAxeViolations(page, testInfo, 'api-reference-light');
  await keepScreenshot(page, testInfo, 'api-reference.png');

  expect(complaints).toEqual([]);
});

test('the API reference in the dark scheme', async ({ page }, testInfo) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/api-reference#get_api_v1_system_info');
  const operation = page.locator('[id="get_api_v1_system_info"]');
  await expect(operation.getByRole('button').first()).toHaveAttribute('aria-expanded', 'true');
  await expectNoAxeViolations(page, testInfo, 'api-reference-dark');
  await keepScreenshot(page, testInfo, 'api-reference-dark.png');
});

test('the filter narrows the list by path, from the keyboard', async ({
  page,
  request,
}, testInfo) => {
  const operations = await documentedOperations(request);
  await page.goto('/api-reference');
  await expect(operationButtons(page)).toHaveCount(operations.length);

  const filter = page.getByRole('searchbox', { name: 'Filter operations' });
  await filter.focus();
  await page.keyboard.type('system/info');
  await expect(operationButtons(page)).toHaveCount(1);
  await expect(page.getByText('/api/v1/system/info', { exact: true })).toBeVisible();
  await expect(page.getByText('/healthz', { exact: true })).toBeHidden();
  await expect(page.getByRole('status')).toHaveText(`1 of ${operations.length} operations`);

  await page.keyboard.press('Escape');
  await expect(filter).toHaveValue('');
  await expect(operationButtons(page)).toHaveCount(operations.length);

  await filter.fill('no-such-route');
  await expect(page.getByText(/No operation matches/)).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'api-reference-empty');
});

test('a deep link opens its operation and scrolls to it', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/api-reference#get_api_v1_system_info');
  const operation = page.locator('[id="get_api_v1_system_info"]');
  await expect(operation.getByRole('button').first()).toHaveAttribute('aria-expanded', 'true');
  await expect(operation).toBeInViewport();
  await expect(operation.getByRole('link', { name: '#get_api_v1_system_info' })).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'api-reference-narrow');
  await keepScreenshot(page, testInfo, 'api-reference-narrow.png');
});
