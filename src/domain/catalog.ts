// The event catalog: which resources exist, which actions each emits, and the
// JSON Schema of each payload object. Pure data; everything else derives from it.

export const RESOURCE_TYPES = [
  'USERS',
  'ENROLLMENTS',
  'COURSES',
  'LIVE_TRAININGS',
  'LIVE_TRAINING_REGISTRATIONS',
  'PROGRAMS',
  'WEBHOOKS',
] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const EVENT_ACTIONS = ['CREATE', 'UPDATE', 'DELETE', 'COMPLETE', 'FAILING', 'RECOVERED', 'DISABLED'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

export type JsonSchema = Record<string, unknown>;

export interface ResourceDefinition {
  type: ResourceType;
  name: string;
  /** Singular, snake_case: the first half of an event type string. */
  singular: string;
  actions: readonly EventAction[];
  payloadFormat: string;
  payloadSchema: JsonSchema;
}

const PAST_TENSE: Record<EventAction, string> = {
  CREATE: 'created',
  UPDATE: 'updated',
  DELETE: 'deleted',
  COMPLETE: 'completed',
  FAILING: 'failing',
  RECOVERED: 'recovered',
  DISABLED: 'disabled',
};

/**
 * Hookline's own notices about the account's webhooks (storage/sql/notices.ts
 * publishes them); publishEvent refuses them.
 */
export const NOTICE_RESOURCE: ResourceType = 'WEBHOOKS';

const CRUD: readonly EventAction[] = ['CREATE', 'UPDATE', 'DELETE'];

// Ids arrive as JSON strings ("42") even where documented as integers.
const id = { type: ['string', 'integer'] };
const str = { type: ['string', 'null'] };
const bool = { type: ['boolean', 'null'] };
const int = { type: ['integer', 'null'] };
const num = { type: ['number', 'null'] };
const ref = { type: ['string', 'integer', 'null'] };
const date = { type: ['string', 'null'] };
const strings = { type: ['array', 'null'], items: { type: ['string', 'integer'] } };

function objectSchema(title: string, properties: Record<string, unknown>): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title,
    type: 'object',
    required: ['id'],
    properties: { id, ...properties },
    additionalProperties: true,
  };
}

const timestamps = { created_at: date, updated_at: date };

export const CATALOG: readonly ResourceDefinition[] = [
  {
    type: 'USERS',
    name: 'Users',
    singular: 'user',
    actions: CRUD,
    payloadFormat: 'User object',
    payloadSchema: objectSchema('User object', {
      uid: str,
      hris_id: str,
      first_name: str,
      last_name: str,
      full_name: str,
      sortable_name: str,
      name: str,
      email: str,
      locale: str,
      roles: strings,
      job_title: str,
      department: str,
      manager_id: ref,
      hire_date: date,
      sub_account_id: ref,
      avatar_url: str,
      bio: str,
      unsubscribed: bool,
      ...timestamps,
      deleted_at: date,
    }),
  },
  {
    type: 'ENROLLMENTS',
    name: 'Enrollments',
    singular: 'enrollment',
    actions: [...CRUD, 'COMPLETE'],
    payloadFormat: 'Enrollment object',
    payloadSchema: objectSchema('Enrollment object', {
      user_id: ref,
      course_template: ref,
      state: { type: ['string', 'null'], enum: ['created', 'active', 'complete', 'failed', null] },
      progress: { type: ['number', 'null'], minimum: 0, maximum: 1 },
      score: { type: ['integer', 'null'], minimum: 0, maximum: 100 },
      required: bool,
      end_at: date,
      completed_at: date,
      expires_at: date,
      ...timestamps,
    }),
  },
  {
    type: 'COURSES',
    name: 'Courses',
    singular: 'course',
    actions: CRUD,
    payloadFormat: 'Course object',
    payloadSchema: objectSchema('Course object', {
      title: str,
      description: str,
      estimated_time: num,
      is_published: bool,
      published_at: date,
      course_type: str,
      passing_threshold: num,
      has_certificate: bool,
      default_days_until_due: int,
      program_ids: strings,
      enrollments_count: int,
      sub_account_id: ref,
      external_course_id: ref,
      ...timestamps,
      deleted_at: date,
    }),
  },
  {
    type: 'LIVE_TRAININGS',
    name: 'Live Trainings',
    singular: 'live_training',
    actions: CRUD,
    payloadFormat: 'Live-training object',
    payloadSchema: objectSchema('Live-training object', {
      title: str,
      description: str,
      author_id: ref,
      is_published: bool,
      sessions_count: int,
      enrollments_count: int,
      has_certificate: bool,
      external_course_id: ref,
      sub_account_id: ref,
      ...timestamps,
      deleted_at: date,
    }),
  },
  {
    type: 'LIVE_TRAINING_REGISTRATIONS',
    name: 'Live Training Registrations',
    singular: 'live_training_registration',
    actions: CRUD,
    payloadFormat: 'Registration object',
    payloadSchema: objectSchema('Registration object', {
      live_course_session_id: ref,
      live_course_id: ref,
      user_id: ref,
      uid: str,
      name: str,
      start_at: date,
      marked_complete_at: date,
      ...timestamps,
      deleted_at: date,
    }),
  },
  {
    type: 'PROGRAMS',
    name: 'Programs',
    singular: 'program',
    actions: CRUD,
    payloadFormat: 'Program object',
    payloadSchema: objectSchema('Program object', {
      title: str,
      description: str,
      is_published: bool,
      course_count: int,
      items: {
        type: ['array', 'null'],
        items: {
          type: 'object',
          properties: { item_type: { type: 'string' }, item_id: { type: ['string', 'integer'] } },
        },
      },
      open_enrollment: bool,
      has_certificate: bool,
      default_days_until_due: int,
      sub_account_id: ref,
      ...timestamps,
    }),
  },
  {
    type: 'WEBHOOKS',
    name: 'Webhook notices',
    singular: 'webhook',
    actions: ['FAILING', 'RECOVERED', 'DISABLED'],
    payloadFormat: 'Webhook notice object',
    payloadSchema: {
      ...objectSchema('Webhook notice object', {
        name: { type: 'string' },
        destination_host: { type: 'string' },
        status: { type: 'string', enum: ['ACTIVE', 'PAUSED', 'DISABLED'] },
        reason: str,
        consecutive_failures: { type: 'integer', minimum: 0 },
        failing_since: date,
        console_url: { type: 'string' },
      }),
      required: ['id', 'name', 'destination_host', 'status', 'consecutive_failures', 'console_url'],
    },
  },
];

const BY_TYPE = new Map(CATALOG.map((r) => [r.type, r]));

export function resourceDefinition(type: ResourceType): ResourceDefinition {
  const def = BY_TYPE.get(type);
  if (!def) throw new Error(`unknown resource ${type}`);
  return def;
}

export function supportsAction(resource: ResourceType, action: EventAction): boolean {
  return resourceDefinition(resource).actions.includes(action);
}

/** e.g. ("ENROLLMENTS", "COMPLETE") → "enrollment.completed" */
export function eventType(resource: ResourceType, action: EventAction): string {
  return `${resourceDefinition(resource).singular}.${PAST_TENSE[action]}`;
}

export function eventTypes(resource: ResourceType): string[] {
  return resourceDefinition(resource).actions.map((a) => eventType(resource, a));
}

/** A sample object of the resource, used by sendTestEvent. */
export function samplePayload(resource: ResourceType, action: EventAction, at: Date): Record<string, unknown> {
  const now = at.toISOString();
  const base = { id: 'test-1', created_at: now, updated_at: now };
  switch (resource) {
    case 'USERS':
      return {
        ...base,
        uid: 'test.user@example.com',
        first_name: 'Test',
        last_name: 'User',
        email: 'test.user@example.com',
      };
    case 'ENROLLMENTS':
      return {
        ...base,
        user_id: 'test-user',
        course_template: 'test-course',
        state: action === 'COMPLETE' ? 'complete' : 'active',
        progress: action === 'COMPLETE' ? 1 : 0.5,
      };
    case 'COURSES':
      return { ...base, title: 'Test course', is_published: true };
    case 'LIVE_TRAININGS':
      return { ...base, title: 'Test live training', is_published: true };
    case 'LIVE_TRAINING_REGISTRATIONS':
      return { ...base, live_course_id: 'test-live-training', user_id: 'test-user' };
    case 'PROGRAMS':
      return { ...base, title: 'Test program', items: [] };
    case 'WEBHOOKS':
      return {
        id: 'test-webhook',
        name: 'Test webhook',
        destination_host: 'example.com',
        status: action === 'DISABLED' ? 'DISABLED' : 'ACTIVE',
        reason: action === 'RECOVERED' ? null : '10 failed attempts in a row',
        consecutive_failures: action === 'RECOVERED' ? 0 : 10,
        failing_since: action === 'RECOVERED' ? null : now,
        console_url: 'http://localhost:4000/console#/webhooks/test-webhook',
      };
  }
}
