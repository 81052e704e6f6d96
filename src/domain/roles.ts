// Who may do what: SUPPORT everything; PUBLISHER publishes, and sees of what it
// published the event and its deliveries' status; VIEWER reads everything but
// secrets, and subscribes. Field by field: src/graphql/authorization.ts.
export const API_KEY_ROLES = ['SUPPORT', 'PUBLISHER', 'VIEWER'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];
