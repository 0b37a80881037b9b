import { expect, type APIRequestContext, type Page } from '@playwright/test';

/** A password cracklib accepts (the server refuses dictionary words and common patterns). */
export const kPassword = 'Quiet-Harbor-Lantern-2026!';

/** An address no earlier run has used: the data directory lives for the whole run. */
export function uniqueEmail(who: string): string {
  return `${who}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.com`;
}

interface MailboxMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * The path and query of the newest console link (`/verify-email?token=...`, ...) mailed to `to`,
 * read from the dev mailbox the way a person reads their mail. The server mails links under its
 * `identity.issuer`, which need not be this test server's origin, so only the path is kept.
 */
export async function mailedLink(
  request: APIRequestContext,
  to: string,
  pagePath: string,
): Promise<string> {
  let found: string | undefined;
  await expect
    .poll(
      async () => {
        const response = await request.get(
          `/api/v1/dev/mailbox?to=${encodeURIComponent(to)}&limit=20`,
        );
        expect(response.status()).toBe(200);
        const { data } = (await response.json()) as { data: MailboxMessage[] };
        const pattern = new RegExp(`https?://[^\\s]*(${pagePath}\\?token=[A-Za-z0-9_\\-.~%]+)`);
        for (const message of data) {
          const match = pattern.exec(message.text);
          if (match?.[1] !== undefined) {
            found = match[1];
            return true;
          }
        }
        return false;
      },
      { message: `a mail to ${to} with a ${pagePath} link` },
    )
    .toBe(true);
  return found ?? '';
}

/** Signs up through the console and verifies the address from the mailed link. */
export async function signUpAndVerify(
  page: Page,
  request: APIRequestContext,
  name: string,
  email: string,
) {
  await page.goto('/sign-up');
  await expect(page.getByRole('heading', { level: 1, name: 'Create your account' })).toBeVisible();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(kPassword);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Check your email' })).toBeVisible();

  await page.goto(await mailedLink(request, email, '/verify-email'));
  await expect(page.getByRole('heading', { level: 1, name: 'Verify your email' })).toBeVisible();
  await page.getByRole('button', { name: 'Verify my email' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Email verified' })).toBeVisible();
}

/** Fills the sign-in form (the page must show it) and submits it. */
export async function signIn(page: Page, email: string) {
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(kPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
