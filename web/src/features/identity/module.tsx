import LockOutlined from '@mui/icons-material/LockOutlined';
import PersonOutlined from '@mui/icons-material/PersonOutlined';
import { lazy } from 'react';
import type { ConsoleModule } from '../../app/consoleModule';

const kAuthIcon = <LockOutlined />;

/** The identity module's pages: signing in and out, mailed links, and the account. */
export const identityModules: readonly ConsoleModule[] = [
  {
    id: 'account',
    path: '/account',
    label: 'Profile',
    icon: <PersonOutlined />,
    Page: lazy(() => import('./AccountPage')),
    access: 'signedIn',
    section: 'account',
  },
  {
    id: 'security',
    path: '/account/security',
    label: 'Security',
    icon: <LockOutlined />,
    Page: lazy(() => import('./SecurityPage')),
    access: 'signedIn',
    section: 'account',
  },
  {
    id: 'sign-in',
    path: '/sign-in',
    label: 'Sign in',
    icon: kAuthIcon,
    Page: lazy(() => import('./SignInPage')),
    inNavigation: false,
  },
  {
    id: 'sign-up',
    path: '/sign-up',
    label: 'Sign up',
    icon: kAuthIcon,
    Page: lazy(() => import('./SignUpPage')),
    inNavigation: false,
  },
  {
    id: 'verify-email',
    path: '/verify-email',
    label: 'Verify email',
    icon: kAuthIcon,
    Page: lazy(() => import('./VerifyEmailPage')),
    inNavigation: false,
  },
  {
    id: 'forgot-password',
    path: '/forgot-password',
    label: 'Forgot password',
    icon: kAuthIcon,
    Page: lazy(() => import('./ForgotPasswordPage')),
    inNavigation: false,
  },
  {
    id: 'reset-password',
    path: '/reset-password',
    label: 'Reset password',
    icon: kAuthIcon,
    Page: lazy(() => import('./ResetPasswordPage')),
    inNavigation: false,
  },
];
