import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, type TestInfo } from '@playwright/test';

const kWcagTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

/** Fails the test with every WCAG 2.2 AA (and best-practice) violation axe finds on the page. */
export async function expectNoAxeViolations(page: Page, testInfo: TestInfo, name: string) {
  // A colour mid-transition (a chip turning green) is not what a person reads: let running
  // CSS transitions and animations finish before axe measures contrast.
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((animation) => animation.effect?.getTiming().iterations !== Infinity)
        .map((animation) => animation.finished.catch(() => undefined)),
    ),
  );
  const results = await new AxeBuilder({ page }).withTags(kWcagTags).analyze();
  await testInfo.attach(`axe-${name}.json`, {
    body: JSON.stringify(results.violations, null, 2),
    contentType: 'application/json',
  });
  expect(
    results.violations.map(({ id, help, nodes }) => ({
      id,
      help,
      targets: nodes.map((node) => node.target.join(' ')),
    })),
  ).toEqual([]);
}

/** A full-page screenshot kept in test-results/ for a person to look at, and in the report. */
export async function keepScreenshot(page: Page, testInfo: TestInfo, fileName: string) {
  const path = `${testInfo.project.outputDir}/${fileName}`;
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(fileName, { path, contentType: 'image/png' });
}

/**
 * Collects what the browser complains about from now on (a script error, a blocked resource, a
 * Content Security Policy violation); a test expects the list empty at its end.
 */
export function browserComplaints(page: Page): string[] {
  const complaints: string[] = [];
  page.on('pageerror', (error) => complaints.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') complaints.push(message.text());
  });
  return complaints;
}

/** Opens the console's start page and follows the main navigation's link named `name`. */
export async function openFromNavigation(page: Page, name: string) {
  await page.goto('/');
  await page
    .getByRole('navigation', { name: 'Main navigation' })
    .getByRole('link', { name })
    .click();
}
