import { expect, test } from '@playwright/test';
import {
  browserComplaints,
  expectNoAxeViolations,
  keepScreenshot,
  openFromNavigation,
} from './helpers';

interface SystemInfo {
  version: string;
  database: { backend: string };
  migrations: { module: string; version: number; name: string }[];
}

test('the System page shows what the server reports, accessibly', async ({
  page,
  request,
}, testInfo) => {
  const response = await request.get('/api/v1/system/info');
  expect(response.status()).toBe(200);
  const info = (await response.json()) as SystemInfo;

  // Anything the browser complains about fails the test.
  const complaints = browserComplaints(page);

  await openFromNavigation(page, 'System');
  await expect(page).toHaveURL(/\/system$/);
  await expect(page.getByRole('heading', { level: 1, name: 'System' })).toBeVisible();
  await expect(page).toHaveTitle('System · Nimbus');

  const server = page.getByRole('region', { name: 'Server' });
  await expect(server.getByText(info.version, { exact: true })).toBeVisible();
  const database = page.getByRole('region', { name: 'Database' });
  await expect(database.getByText(info.database.backend, { exact: true })).toBeVisible();
  const migrations = database.getByRole('table', { name: 'Applied migrations' });
  // One header row, then a row per migration (or one saying there are none).
  await expect(migrations.getByRole('row')).toHaveCount(1 + Math.max(1, info.migrations.length));

  const health = page.getByRole('region', { name: 'Health' });
  await expect(health.getByText('Live', { exact: true })).toBeVisible();
  await expect(health.getByText('Ready', { exact: true })).toBeVisible();

  await expectNoAxeViolations(page, testInfo, 'system-light');
  await keepScreenshot(page, testInfo, 'system-page.png');

  await page.emulateMedia({ colorScheme: 'dark' });
  await expectNoAxeViolations(page, testInfo, 'system-dark');
  await keepScreenshot(page, testInfo, 'system-page-dark.png');
  expect(complaints).toEqual([]);
});

test('an unknown client route still gets the app shell', async ({ page }) => {
  const response = await page.goto('/some/client/route');
  expect(response?.status()).toBe(200);
  await expect(page.getByRole('banner')).toContainText('Nimbus');
  await expect(page.getByRole('navigation', { name: 'Main navigation' })).toBeVisible();
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await page.getByRole('link', { name: 'Go to the start page' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'System' })).toBeVisible();
});

test('the console can be used with the keyboard alone', async ({ page }) => {
  await page.goto('/some/client/route');
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();

  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to main content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Nimbus' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'System' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'System' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'System' })).toHaveAttribute('aria-current', 'page');
});

test('on a narrow screen the navigation opens from the menu button', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/some/client/route');
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main navigation' })).toBeHidden();

  const menu = page.getByRole('button', { name: 'Open navigation' });
  await menu.focus();
  await page.keyboard.press('Enter');
  // The open drawer is modal: the rest of the page, the menu button too, leaves the accessibility
  // tree, so the button is found by what it controls.
  await expect(page.locator('button[aria-controls="main-navigation"]')).toHaveAttribute(
    'aria-expanded',
    'true',
  );
  const link = page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', {
    name: 'System',
  });
  await expect(link).toBeVisible();
  await link.focus();
  await page.keyboard.press('Enter');

  await expect(page.getByRole('heading', { level: 1, name: 'System' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main navigation' })).toBeHidden();
  await expect(page.getByRole('region', { name: 'Server' })).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'system-narrow');
  await keepScreenshot(page, testInfo, 'system-page-narrow.png');
});
