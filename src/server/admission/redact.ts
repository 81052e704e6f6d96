import { Kind, visit, type DocumentNode, type ValueNode } from 'graphql';

// Error messages never carry a submitted secret, and echo other input only in
// short: a message built from graphql-js or a library may quote what the
// client sent. Every message leaving the service (response or log) passes
// through a Redactor made from its request.

/** Input fields whose values are secrets; any future secret input is added here. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(['bearerToken', 'hmacSecret', 'token', 'authorization']);

const ECHO_LIMIT = 64;
// Control characters and lone surrogates make a message unreadable or unprintable.
const UNPRINTABLE = /[\u0000-\u001f\u007f]|\p{Cs}/gu;

/** A piece of input, fit to be quoted in a message: printable and at most `max` characters. */
export function cut(s: string, max = ECHO_LIMIT): string {
  const clean = s.replace(UNPRINTABLE, '\uFFFD');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: Iterable<string>) {
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  }

  /**
   * The message with every secret of the request replaced, the value graphql-js
   * prints after "cannot represent … value:" dropped, and quoted strings cut short.
   */
  message(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    out = out.replace(/(cannot represent [^:\n]*?value): [^\n]*/g, '$1');
    return out.replace(/"((?:[^"\\]|\\.){65,}?)"/g, (_m, inner: string) => `"${cut(inner)}"`);
  }

  static none = new Redactor([]);
}

/** The secret values a request carries: in its variables (any depth) and in the document's literals. */
export function secretsOf(document: DocumentNode | null, variables: unknown): string[] {
  const found: string[] = [];
  const stack: unknown[] = [variables];
  let budget = 100_000;
  while (stack.length && budget-- > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const [k, child] of Object.entries(v)) {
      if (SECRET_FIELDS.has(k) && typeof child === 'string') found.push(child);
      else if (SECRET_FIELDS.has(k) && child !== null && child !== undefined) found.push(JSON.stringify(child) ?? '');
      else stack.push(child);
    }
  }
  if (document) {
    const literals = (v: ValueNode): void => {
      if (v.kind === Kind.STRING || v.kind === Kind.ENUM || v.kind === Kind.INT || v.kind === Kind.FLOAT)
        found.push(v.value);
      else if (v.kind === Kind.OBJECT) for (const f of v.fields) literals(f.value);
      else if (v.kind === Kind.LIST) for (const x of v.values) literals(x);
    };
    visit(document, {
      ObjectField(node) {
        if (SECRET_FIELDS.has(node.name.value)) literals(node.value);
      },
    });
  }
  return found;
}
