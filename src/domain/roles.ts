// Who may do what. SUPPORT can do everything; PUBLISHER only publishes; VIEWER reads and subscribes.
export const API_KEY_ROLES = ['SUPPORT', 'PUBLISHER', 'VIEWER'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

export type Permission = 'read' | 'publish' | 'configure';

const GRANTS: Record<ApiKeyRole, readonly Permission[]> = {
  SUPPORT: ['read', 'publish', 'configure'],
  PUBLISHER: ['publish'],
  VIEWER: ['read'],
};

export function can(role: ApiKeyRole, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}
