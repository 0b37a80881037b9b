import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { stubFetch } from '../../test/fetchStub';
import { renderApp } from '../../test/renderApp';
import { account, clearSessionCookie, requestsTo, signedIn } from '../../test/signedIn';

afterEach(clearSessionCookie);

const accepted = {
  status: 202,
  body: {
    status: 'verification_sent',
    message: 'If an account with this address needs verifying, a new link is on its way.',
  },
};

const expiredLink = {
  status: 400,
  body: {
    type: '/problems/validation-failed',
    title: 'Bad Request',
    status: 400,
    detail: 'The request has invalid fields.',
    errors: [{ pointer: '/token', message: 'the link is invalid, expired or already used' }],
  },
};

describe('ResendVerification', () => {
  it('offers a new link when the verification link is expired, and confirms neutrally', async () => {
    const fetchMock = stubFetch({
      '/api/v1/auth/verify-email': expiredLink,
      '/api/v1/auth/verify-email/resend': accepted,
    });
    renderApp('/verify-email?token=tok_old');

    await userEvent.click(await screen.findByRole('button', { name: 'Verify my email' }));
    await userEvent.click(await screen.findByLabelText(/Email/));
    await userEvent.paste('ada@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Send a new link' }));

    expect(
      await screen.findByText(
        'If an account with this address needs verifying, a new link is on its way.',
      ),
    ).toBeInTheDocument();
    const [resend] = requestsTo(fetchMock, '/api/v1/auth/verify-email/resend');
    expect(await resend?.json()).toEqual({ email: 'ada@example.com' });
  });

  it('shows a malformed address where the server points', async () => {
    stubFetch({
      '/api/v1/auth/verify-email/resend': {
        status: 400,
        body: {
          type: '/problems/validation-failed',
          title: 'Bad Request',
          status: 400,
          detail: 'The request has invalid fields.',
          errors: [{ pointer: '/email', message: 'is not a valid email address' }],
        },
      },
    });
    renderApp('/verify-email');
    await userEvent.click(await screen.findByLabelText(/Email/));
    await userEvent.paste('ada');
    await userEvent.click(screen.getByRole('button', { name: 'Send a new link' }));
    expect(await screen.findAllByText(/is not a valid email address/)).not.toHaveLength(0);
    expect(screen.queryByText(/a new link is on its way/)).not.toBeInTheDocument();
  });

  it('is on the account page, prefilled, while the email is not verified', async () => {
    const fetchMock = stubFetch({
      ...signedIn(account({ email_verified: false })),
      '/api/v1/me/sessions': { status: 200, body: { data: [], next_cursor: null } },
      '/api/v1/auth/verify-email/resend': accepted,
    });
    renderApp('/account');

    const field = await screen.findByDisplayValue('ada@example.com');
    expect(field).toHaveAttribute('type', 'email');
    await userEvent.click(screen.getByRole('button', { name: 'Send a new link' }));
    expect(await screen.findByText(/a new link is on its way/)).toBeInTheDocument();
    const [resend] = requestsTo(fetchMock, '/api/v1/auth/verify-email/resend');
    expect(await resend?.json()).toEqual({ email: 'ada@example.com' });
  });

  it('is not on the account page once the email is verified', async () => {
    stubFetch({
      ...signedIn(),
      '/api/v1/me/sessions': { status: 200, body: { data: [], next_cursor: null } },
    });
    renderApp('/account');
    expect(await screen.findByRole('heading', { level: 1, name: 'Profile' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Send a new link' })).not.toBeInTheDocument();
  });
});
