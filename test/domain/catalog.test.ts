import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
// ajv is CommonJS: under NodeNext the default import is module.exports, typed as the module
// namespace; the named export `Ajv` is the class both at type level and at run time.
import { Ajv } from 'ajv';
import {
  CATALOG,
  EVENT_ACTIONS,
  RESOURCE_TYPES,
  eventType,
  eventTypes,
  resourceDefinition,
  samplePayload,
  supportsAction,
  type EventAction,
  type ResourceType,
} from '../../src/domain/catalog.js';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validators = new Map(CATALOG.map((r) => [r.type, ajv.compile(r.payloadSchema)]));
const validate = (type: ResourceType, data: unknown): boolean => validators.get(type)!(data);

/** The platform's resources: WEBHOOKS are Hookline's own notices, with a schema of their own. */
const PLATFORM = RESOURCE_TYPES.filter((t) => t !== 'WEBHOOKS');
describe('catalog', () => {
  it("has the platform's 6 resources and Hookline's own notices", () => {
    assert.equal(CATALOG.length, 7);
    assert.deepEqual([...RESOURCE_TYPES].sort(), [
      'COURSES',
      'ENROLLMENTS',
      'LIVE_TRAININGS',
      'LIVE_TRAINING_REGISTRATIONS',
      'PROGRAMS',
      'USERS',
      'WEBHOOKS',
    ]);
    assert.deepEqual(CATALOG.map((r) => r.type).sort(), [...RESOURCE_TYPES].sort());
    assert.equal(new Set(CATALOG.map((r) => r.singular)).size, 7, 'singular names are distinct');
  });

  it('gives every platform resource CREATE, UPDATE and DELETE, and the notices none of them', () => {
    for (const action of ['CREATE', 'UPDATE', 'DELETE'] as const)
      assert.equal(supportsAction('WEBHOOKS', action), false);
    assert.deepEqual(eventTypes('WEBHOOKS'), ['webhook.failing', 'webhook.recovered', 'webhook.disabled']);
    for (const type of PLATFORM) {
      for (const action of ['CREATE', 'UPDATE', 'DELETE'] as const) {
        assert.equal(supportsAction(type, action), true, `${type} ${action}`);
      }
    }
  });

  it('gives COMPLETE to ENROLLMENTS only', () => {
    const withComplete = RESOURCE_TYPES.filter((t) => supportsAction(t, 'COMPLETE'));
    assert.deepEqual(withComplete, ['ENROLLMENTS']);
    assert.deepEqual([...resourceDefinition('ENROLLMENTS').actions].sort(), ['COMPLETE', 'CREATE', 'DELETE', 'UPDATE']);
    assert.deepEqual([...resourceDefinition('USERS').actions].sort(), ['CREATE', 'DELETE', 'UPDATE']);
  });

  it('resourceDefinition returns the matching entry and throws for an unknown type', () => {
    for (const type of RESOURCE_TYPES) assert.equal(resourceDefinition(type).type, type);
    assert.throws(() => resourceDefinition('NOPE' as ResourceType), /unknown resource NOPE/);
  });
});

describe('eventType', () => {
  it('builds <singular>.<past tense>', () => {
    assert.equal(eventType('ENROLLMENTS', 'COMPLETE'), 'enrollment.completed');
    assert.equal(eventType('LIVE_TRAINING_REGISTRATIONS', 'CREATE'), 'live_training_registration.created');
    assert.equal(eventType('USERS', 'UPDATE'), 'user.updated');
    assert.equal(eventType('LIVE_TRAININGS', 'DELETE'), 'live_training.deleted');
    assert.equal(eventType('PROGRAMS', 'CREATE'), 'program.created');
    assert.equal(eventType('COURSES', 'DELETE'), 'course.deleted');
  });

  it('eventTypes lists one type per supported action, all distinct across the catalog', () => {
    assert.deepEqual(eventTypes('ENROLLMENTS').sort(), [
      'enrollment.completed',
      'enrollment.created',
      'enrollment.deleted',
      'enrollment.updated',
    ]);
    const all = RESOURCE_TYPES.flatMap((t) => eventTypes(t));
    assert.equal(all.length, 6 * 3 + 1 + 3);
    assert.equal(new Set(all).size, all.length);
    for (const t of all) assert.match(t, /^[a-z_]+\.(created|updated|deleted|completed|failing|recovered|disabled)$/);
  });
});

describe('payload schemas', () => {
  it('compile with ajv in strict mode', () => {
    assert.equal(validators.size, 7);
    for (const v of validators.values()) assert.equal(typeof v, 'function');
  });

  for (const type of PLATFORM) {
    describe(type, () => {
      it('accept a string id and an integer id', () => {
        assert.equal(validate(type, { id: '42' }), true);
        assert.equal(validate(type, { id: 42 }), true);
      });

      it('accept extra fields', () => {
        assert.equal(validate(type, { id: '42', some_future_field: { nested: [1, 2] }, another: null }), true);
      });

      it('reject a missing id', () => {
        assert.equal(validate(type, {}), false);
        assert.equal(validate(type, { name: 'x' }), false);
      });

      it('reject an id that is neither string nor integer', () => {
        for (const id of [true, null, 4.5, { v: 1 }, ['1']]) {
          assert.equal(validate(type, { id }), false, JSON.stringify(id));
        }
      });

      it('reject a non-object payload', () => {
        for (const payload of [null, '42', 42, [{ id: '42' }]]) {
          assert.equal(validate(type, payload), false, JSON.stringify(payload));
        }
      });

      it('has a title and requires id', () => {
        const schema = resourceDefinition(type).payloadSchema;
        assert.equal(schema.title, resourceDefinition(type).payloadFormat);
        assert.deepEqual(schema.required, ['id']);
      });
    });
  }

  it('describe a webhook notice with what the delivery contract lists', () => {
    const notice = samplePayload('WEBHOOKS', 'FAILING', AT);
    assert.equal(validate('WEBHOOKS', notice), true);
    for (const field of ['name', 'destination_host', 'status', 'consecutive_failures', 'console_url']) {
      const { [field]: _, ...without } = notice;
      assert.equal(validate('WEBHOOKS', without), false, `${field} is required`);
    }
    assert.equal(validate('WEBHOOKS', { ...notice, status: 'GONE' }), false);
  });

  it('check enrollment progress, score and state', () => {
    const ok = { id: '1', progress: 0.5, score: 80, state: 'active' };
    assert.equal(validate('ENROLLMENTS', ok), true);
    assert.equal(validate('ENROLLMENTS', { ...ok, progress: 0 }), true);
    assert.equal(validate('ENROLLMENTS', { ...ok, progress: 1 }), true);
    assert.equal(validate('ENROLLMENTS', { ...ok, progress: null, state: null, score: null }), true);
    assert.equal(validate('ENROLLMENTS', { ...ok, progress: 2 }), false);
    assert.equal(validate('ENROLLMENTS', { ...ok, progress: -0.1 }), false);
    assert.equal(validate('ENROLLMENTS', { ...ok, state: 'bogus' }), false);
    for (const state of ['created', 'active', 'complete', 'failed']) {
      assert.equal(validate('ENROLLMENTS', { ...ok, state }), true, state);
    }
    assert.equal(validate('ENROLLMENTS', { ...ok, score: 101 }), false);
    assert.equal(validate('ENROLLMENTS', { ...ok, score: 50.5 }), false);
  });

  it('check typed fields of other resources', () => {
    assert.equal(validate('USERS', { id: '1', email: 'a@b.c', roles: ['admin', 7], unsubscribed: false }), true);
    assert.equal(validate('USERS', { id: '1', unsubscribed: 'no' }), false);
    assert.equal(validate('USERS', { id: '1', roles: 'admin' }), false);
    assert.equal(validate('COURSES', { id: '1', estimated_time: 1.5, enrollments_count: 3 }), true);
    assert.equal(validate('COURSES', { id: '1', enrollments_count: 3.5 }), false);
    assert.equal(validate('PROGRAMS', { id: '1', items: [{ item_type: 'course', item_id: 9 }] }), true);
    assert.equal(validate('PROGRAMS', { id: '1', items: [{ item_type: 3 }] }), false);
  });
});

const AT = new Date('2026-11-29T04:00:00.000Z');

describe('samplePayload', () => {
  it('passes its schema for every (resource, action)', () => {
    let checked = 0;
    for (const type of RESOURCE_TYPES) {
      for (const action of EVENT_ACTIONS as readonly EventAction[]) {
        if (!supportsAction(type, action)) continue;
        const payload = samplePayload(type, action, AT);
        const v = validators.get(type)!;
        assert.equal(v(payload), true, `${type} ${action}: ${ajv.errorsText(v.errors)}`);
        assert.ok(payload.id, `${type} ${action} has an id`);
        checked++;
      }
    }
    assert.equal(checked, 22);
  });

  it('marks a completed enrollment complete', () => {
    const p = samplePayload('ENROLLMENTS', 'COMPLETE', AT);
    assert.equal(p.state, 'complete');
    assert.equal(p.progress, 1);
    assert.notEqual(samplePayload('ENROLLMENTS', 'UPDATE', AT).state, 'complete');
  });

  it('carries the given time as ISO timestamps', () => {
    const p = samplePayload('USERS', 'CREATE', AT);
    assert.equal(p.created_at, AT.toISOString());
    assert.equal(p.updated_at, AT.toISOString());
  });
});
