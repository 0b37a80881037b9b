import { expect, test } from '@playwright/test';
import { expectNoAxeViolations, keepScreenshot, openFromNavigation } from './helpers';
import { mailedLink, signIn, signUpAndVerify, uniqueEmail } from './identity';
import { nextTotp, totp } from './totp';

test('two-step verification: enrol with the QR code, then sign in with a code', async ({
  page,
  request,
}, testInfo) => {
  test.setTimeout(120_000);
  const email = uniqueEmail('mfa');
  await signUpAndVerify(page, request, 'Mia Factor', email);
  await page.goto('/sign-in');
  await signIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();

  await page.getByRole('button', { name: 'Mia Factor' }).click();
  await page.getByRole('menuitem', { name: 'Security' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Open sessions' })).toContainText('This session');

  const mfa = page.getByRole('region', { name: 'Two-step verification' });
  await mfa.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(mfa.getByRole('img', { name: 'QR code for the authenticator app' })).toBeVisible();
  const secret = (await mfa.locator('code').textContent()) ?? '';
  expect(secret).toMatch(/^[A-Z2-7]+=*$/);
  await expectNoAxeViolations(page, testInfo, 'mfa-enrolment');
  await keepScreenshot(page, testInfo, 'mfa-enrolment.png');

  await mfa.getByLabel('Code from the app').fill(totp(secret, Date.now() / 1000));
  await mfa.getByRole('button', { name: 'Turn on' }).click();
  const codes = mfa.getByRole('list', { name: 'Recovery codes' });
  await expect(codes.getByRole('listitem')).toHaveCount(10);
  await expect(mfa.getByText('On', { exact: true })).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'security');
  await keepScreenshot(page, testInfo, 'security.png');
  await mfa.getByRole('button', { name: 'I saved them' }).click();

  // Sign out, and in again: now with the second step.
  await page.getByRole('button', { name: 'Mia Factor' }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await signIn(page, email);
  await expect(
    page.getByRole('heading', { level: 1, name: 'Two-step verification' }),
  ).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'mfa-step');
  await page.getByLabel('Code').fill(nextTotp(secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();
});

test('forgot password: the mailed link sets a new one', async ({ page, request }, testInfo) => {
  test.setTimeout(90_000);
  const email = uniqueEmail('forgot');
  await signUpAndVerify(page, request, 'Fran Forgot', email);
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Reset your password' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await expect(page.getByText(/a reset link is on its way/)).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'forgot-password');

  const newPassword = 'Other-Meadow-Compass-2027?';
  await page.goto(await mailedLink(request, email, '/reset-password'));
  await page.getByRole('textbox', { name: /^New password/ }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  await expectNoAxeViolations(page, testInfo, 'reset-password');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByText('Your password was changed')).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(newPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();
});

test('the dev mailbox shows the mail, on a loopback address', async ({
  page,
  request,
}, testInfo) => {
  const email = uniqueEmail('mailbox');
  const response = await request.post('/api/v1/auth/signup', {
    data: { email, password: 'Quiet-Harbor-Lantern-2026!' },
  });
  expect(response.status()).toBe(202);
  await openFromNavigation(page, 'Dev mailbox');
  await expect(page.getByRole('heading', { level: 1, name: 'Dev mailbox' })).toBeVisible();
  await page.getByLabel('Recipient').fill(email);
  const message = page.getByRole('button', { name: new RegExp(`To ${email}`) });
  await expect(message).toBeVisible();
  await message.click();
  await expect(page.getByRole('link', { name: /\/verify-email\?token=/ })).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'dev-mailbox');
  await keepScreenshot(page, testInfo, 'dev-mailbox.png');
});
