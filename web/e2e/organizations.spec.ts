import { expect, test } from '@playwright/test';
import { expectNoAxeViolations, keepScreenshot } from './helpers';
import { mailedLink, signIn, signUpAndVerify, uniqueEmail } from './identity';

test('sign up, verify, sign in, create an org, invite, and the invitee joins with the role', async ({
  page,
  browser,
  request,
}, testInfo) => {
  test.setTimeout(120_000);
  const ownerEmail = uniqueEmail('owner');
  const inviteeEmail = uniqueEmail('invitee');
  const orgName = `Acme ${Date.now().toString(36)}`;

  // The owner signs up and verifies from the mail.
  await signUpAndVerify(page, request, 'Olivia Owner', ownerEmail);
  await expectNoAxeViolations(page, testInfo, 'email-verified');
  await page.getByRole('link', { name: 'Sign in' }).last().click();
  await expect(page.getByText('Your email address is verified')).toBeVisible();
  await expectNoAxeViolations(page, testInfo, 'sign-in');
  await keepScreenshot(page, testInfo, 'sign-in.png');
  await signIn(page, ownerEmail);
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Profile' })).toContainText(ownerEmail);
  await expectNoAxeViolations(page, testInfo, 'profile');
  await keepScreenshot(page, testInfo, 'profile.png');

  // A reload keeps the session: the refresh cookie brings a new access token.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Profile' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Olivia Owner' })).toBeVisible();

  // Create the organization from the switcher.
  await page.getByRole('button', { name: /^Organization:/ }).click();
  await page.getByRole('menuitem', { name: 'Create organization' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create an organization' });
  await dialog.getByLabel('Organization name').fill(orgName);
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Organization' })).toBeVisible();
  const overview = page.getByRole('region', { name: 'Overview' });
  await expect(overview).toContainText(orgName);
  await expect(overview).toContainText('owner');
  await expectNoAxeViolations(page, testInfo, 'organization');
  await keepScreenshot(page, testInfo, 'organization.png');

  // Invite someone as a viewer.
  await page
    .getByRole('navigation', { name: 'Main navigation' })
    .getByRole('link', { name: 'Members' })
    .click();
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  await page.getByLabel('Email to invite').fill(inviteeEmail);
  await page.getByRole('combobox', { name: 'Role' }).click();
  await page.getByRole('option', { name: 'viewer' }).click();
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByText(`Invitation sent to ${inviteeEmail}`)).toBeVisible();
  await expect(page.getByRole('table', { name: 'Open invitations' })).toContainText(inviteeEmail);
  await expectNoAxeViolations(page, testInfo, 'members');
  await keepScreenshot(page, testInfo, 'members.png');

  // The invitee, in a browser of their own, makes an account and opens the invitation.
  const inviteeContext = await browser.newContext();
  try {
    const invitee = await inviteeContext.newPage();
    await signUpAndVerify(invitee, inviteeContext.request, 'Ivan Invitee', inviteeEmail);
    await invitee.goto(await mailedLink(request, inviteeEmail, '/accept-invitation'));
    // Signed out: sign in first, then back to the invitation.
    await signIn(invitee, inviteeEmail);
    await expect(
      invitee.getByRole('heading', { level: 1, name: 'Join an organization' }),
    ).toBeVisible();
    await expect(invitee.getByText(`You are invited to ${orgName} as viewer`)).toBeVisible();
    await expectNoAxeViolations(invitee, testInfo, 'accept-invitation');
    await keepScreenshot(invitee, testInfo, 'accept-invitation.png');
    await invitee.getByRole('button', { name: 'Accept invitation' }).click();

    // The new member sees the organization, with the role they were invited with.
    await expect(invitee.getByRole('heading', { level: 1, name: 'Organization' })).toBeVisible();
    const inviteeOverview = invitee.getByRole('region', { name: 'Overview' });
    await expect(inviteeOverview).toContainText(orgName);
    await expect(inviteeOverview).toContainText('viewer');
    await expect(invitee.getByRole('button', { name: `Organization: ${orgName}` })).toBeVisible();
    await keepScreenshot(invitee, testInfo, 'invitee-organization.png');
  } finally {
    await inviteeContext.close();
  }

  // The owner sees the new member in the list.
  await page.reload();
  const members = page.getByRole('table', { name: 'Members' });
  await expect(members).toContainText(inviteeEmail);
  await expect(members.getByRole('combobox', { name: `Role of ${inviteeEmail}` })).toContainText(
    'viewer',
  );

  // And signs out: the session ends on the server too, a reload stays signed out.
  await page.getByRole('button', { name: 'Olivia Owner' }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await page.goto('/account');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
});
