import {
  getNamedType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';

// Paths through a schema, generated from it: every field reachable from every
// root field, each as a query of its own. Used to hold a rule to every way a
// type can be reached (test/graphql/authz-walk.test.ts).

export type Operation = 'query' | 'mutation' | 'subscription';

export interface FieldPath {
  operation: Operation;
  /** "Type.field" from the root field down, e.g. ["Mutation.publishEvent", "Event.deliveries", "Delivery.webhook"]. */
  steps: string[];
}

export const showPath = (p: FieldPath): string => p.steps.map((s) => s.split('.')[1]).join('.');

function fieldsOf(type: GraphQLNamedType): GraphQLField<unknown, unknown>[] {
  return isObjectType(type) || isInterfaceType(type) ? Object.values(type.getFields()) : [];
}

/**
 * For each root field, one shortest path to each field of each type it
 * reaches (a type's fields are listed once per root field: the shortest
 * path is where a cycle such as Event.deliveries → Delivery.event stops).
 */
export function reachablePaths(schema: GraphQLSchema): FieldPath[] {
  const roots: [Operation, GraphQLNamedType | null | undefined][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  const paths: FieldPath[] = [];
  for (const [operation, root] of roots) {
    if (!root) continue;
    for (const field of fieldsOf(root)) {
      const first = `${root.name}.${field.name}`;
      paths.push({ operation, steps: [first] });
      const expanded = new Set<string>();
      const queue: [GraphQLNamedType, string[]][] = [[getNamedType(field.type), [first]]];
      while (queue.length) {
        const [type, steps] = queue.shift()!;
        if (expanded.has(type.name)) continue;
        expanded.add(type.name);
        for (const f of fieldsOf(type)) {
          const next = [...steps, `${type.name}.${f.name}`];
          paths.push({ operation, steps: next });
          const named = getNamedType(f.type);
          if (fieldsOf(named).length) queue.push([named, next]);
        }
      }
    }
  }
  return paths;
}

/**
 * The operation selecting `path`, with each step's arguments from `args`
 * ("Type.field" → GraphQL source such as `id: "…"`); a field selected as an
 * object ends in { __typename }. Throws when a required argument has no value.
 */
export function pathQuery(schema: GraphQLSchema, path: FieldPath, args: (step: string) => string | undefined): string {
  let inner = '';
  for (const step of [...path.steps].reverse()) {
    const [typeName, fieldName] = step.split('.') as [string, string];
    const field = fieldsOf(schema.getType(typeName)!).find((f) => f.name === fieldName)!;
    const given = args(step);
    const missing = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
    if (missing.length && !given) {
      throw new Error(`${step} needs ${missing.map((a) => a.name).join(', ')}: give the walk a value for it`);
    }
    const selection = inner || (fieldsOf(getNamedType(field.type)).length ? '{ __typename }' : '');
    inner = `{ ${fieldName}${given ? `(${given})` : ''} ${selection} }`.replace(/ +}/g, ' }');
  }
  return `${path.operation} ${inner}`;
}

/**
 * The steps of `path` whose field is present in `data` (in at least one
 * object, where lists hold several); a path through an empty list or a null
 * stops there.
 */
export function reachedSteps(data: unknown, path: FieldPath): string[] {
  const reached: string[] = [];
  let level: unknown[] = [data];
  for (const step of path.steps) {
    const key = step.split('.')[1]!;
    const objects = level
      .flatMap((v) => (Array.isArray(v) ? v : [v]))
      .filter((v) => v !== null && typeof v === 'object');
    const present = objects.filter((o) => key in (o as Record<string, unknown>));
    if (!present.length) break;
    reached.push(step);
    level = present.map((o) => (o as Record<string, unknown>)[key]);
  }
  return reached;
}
