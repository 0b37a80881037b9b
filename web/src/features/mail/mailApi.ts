import { baseApi } from '../../api/baseApi';

/** One mail the dev mailbox kept instead of sending (`GET /api/v1/dev/mailbox`). */
export interface MailboxMessage {
  id: string;
  to: string;
  subject: string;
  text: string;
  created_at: string;
}

export const mailApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    listMailbox: build.query<{ data: MailboxMessage[] }, { to: string; limit: number }>({
      query: ({ to, limit }) => ({
        url: '/api/v1/dev/mailbox',
        params: { limit, ...(to === '' ? {} : { to }) },
      }),
      providesTags: ['Mailbox'],
    }),
  }),
});

export const { useListMailboxQuery } = mailApi;
