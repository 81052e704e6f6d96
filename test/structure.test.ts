import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoPath } from './kit/paths.js';

// The layout's one structural rule a compiler does not check: no module of
// src/ imports, directly or through others, a module that imports it back
// (type-only imports included: they still mean the two cannot be read or
// changed apart). The one circle allowed is TypeORM's two-sided relation
// between an entity and its children, which its decorators name lazily.

const ALLOWED = new Set(['src/storage/entities/webhook-subscription.ts <-> src/storage/entities/webhook.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Every import of a relative module, resolved to its .ts file under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/g)) {
    out.push(path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** Strongly connected components of more than one module (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('structure', () => {
  it('no import circle inside src/', () => {
    const root = repoPath('');
    const graph = new Map(sources(repoPath('src')).map((f) => [f, importsOf(f)]));
    assert.ok(graph.size > 50, `read ${graph.size} modules`);
    const names = circles(graph).map((c) => c.map((f) => path.relative(root, f)).join(' <-> '));
    assert.deepEqual(
      names.filter((n) => !ALLOWED.has(n)),
      [],
    );
  });

  it('finds a circle when there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    assert.deepEqual(circles(g), [['a', 'b', 'c']]);
  });
});
