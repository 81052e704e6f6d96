import {
  GraphQLError,
  Kind,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

// The query depth limit as a validation rule that cannot crash or loop: it
// runs beside graphql-js's own rules (in one pass), so it must survive what
// those rules report: fragment cycles, self-referencing and unknown fragments.
// A fragment's depth is computed once (a chain or fan of fragments stays
// linear) and a fragment already on the path counts as 0. Introspection
// fields (__schema, __type) do not count, as in graphql-depth-limit.

export const MAX_DEPTH = 12;

export function depthLimitRule(max = MAX_DEPTH): ValidationRule {
  return (context: ValidationContext) => {
    const doc = context.getDocument();
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const memo = new Map<string, number>();
    const onPath = new Set<string>();

    /** The depth of a selection set, capped at budget + 1: past the limit, deeper is no more wrong. */
    const depthOf = (set: SelectionSetNode, budget: number): number => {
      let deepest = 0;
      for (const s of set.selections) {
        let d = 0;
        if (s.kind === Kind.FIELD) {
          if (s.selectionSet && !s.name.value.startsWith('__'))
            d = budget <= 0 ? 1 : 1 + depthOf(s.selectionSet, budget - 1);
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          d = depthOf(s.selectionSet, budget);
        } else {
          d = Math.min(fragmentDepth(s.name.value), budget + 1);
        }
        if (d > deepest) deepest = d;
        if (deepest > budget) return deepest;
      }
      return deepest;
    };
    const fragmentDepth = (name: string): number => {
      const known = memo.get(name);
      if (known !== undefined) return known;
      const f = fragments.get(name);
      if (!f || onPath.has(name)) return 0;
      onPath.add(name);
      const d = depthOf(f.selectionSet, max);
      onPath.delete(name);
      memo.set(name, d);
      return d;
    };

    for (const d of doc.definitions) {
      if (d.kind !== Kind.OPERATION_DEFINITION) continue;
      if (depthOf(d.selectionSet, max) > max) {
        const name = d.name ? `operation ${d.name.value}` : 'the operation';
        context.reportError(
          new GraphQLError(`${name} exceeds the depth limit of ${max} nested fields: ask for fewer nested levels`, {
            nodes: d,
          }),
        );
      }
    }
    return {};
  };
}
