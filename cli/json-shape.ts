/**
 * A `--json` document's shape, written once in the compact notation the help texts and the
 * README show, e.g. `{"stack","violations":[{"pack","policy","urn","message"}]}`, parsed here
 * into a tree that real output is checked against (test/cli/json-shapes.test.ts).
 *
 * Notation:
 *   {"a","b"?,"c":<v>}   an object with exactly these keys; `?` marks one that may be absent;
 *                        a key without `:<v>` may hold any value
 *   {<what>} {<what>:<v>} an object with any keys (a map), its values any or each a <v>
 *   [<v>]                a list whose items are each a <v>
 *   [what]               a list of anything (a bare word says what: `[names]`)
 *   "text"               that string exactly
 *   null                 null
 *   <what>               any value (`<resource changes>`)
 *   <v>|<v>              either
 */

export type ShapeNode =
  | { kind: "object"; members: { key: string; optional: boolean; value: ShapeNode }[] }
  | { kind: "map"; value: ShapeNode }
  | { kind: "list"; item: ShapeNode }
  | { kind: "literal"; value: string | null }
  | { kind: "any" }
  | { kind: "either"; options: ShapeNode[] };

export interface JsonShape {
  /** The declaration as written: what `--help` and the README show. */
  readonly text: string;
  readonly root: ShapeNode;
}

const ANY: ShapeNode = { kind: "any" };

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  parse(): ShapeNode {
    const node = this.value();
    this.space();
    if (this.i !== this.text.length) this.fail("unexpected text");
    return node;
  }

  private fail(what: string): never {
    throw new Error(`JSON shape ${JSON.stringify(this.text)}: ${what} at ${this.i}`);
  }

  private space(): void {
    while (/\s/.test(this.text[this.i] ?? "")) this.i++;
  }

  private peek(): string {
    this.space();
    return this.text[this.i] ?? "";
  }

  private eat(c: string): void {
    if (this.peek() !== c) this.fail(`expected ${c}`);
    this.i++;
  }

  private string(): string {
    this.eat('"');
    const end = this.text.indexOf('"', this.i);
    if (end < 0) this.fail("unterminated string");
    const s = this.text.slice(this.i, end);
    this.i = end + 1;
    return s;
  }

  /** `<...>` with nested angle brackets allowed; returns nothing, it is prose. */
  private placeholder(): void {
    this.eat("<");
    let depth = 1;
    while (depth > 0) {
      const c = this.text[this.i++];
      if (c === undefined) this.fail("unterminated <");
      if (c === "<") depth++;
      if (c === ">") depth--;
    }
  }

  private value(): ShapeNode {
    const options = [this.single()];
    while (this.peek() === "|") {
      this.i++;
      options.push(this.single());
    }
    return options.length === 1 ? options[0]! : { kind: "either", options };
  }

  private single(): ShapeNode {
    const c = this.peek();
    if (c === "{") return this.object();
    if (c === "[") return this.list();
    if (c === '"') return { kind: "literal", value: this.string() };
    if (c === "<") {
      this.placeholder();
      return ANY;
    }
    if (this.text.startsWith("null", this.i)) {
      this.i += 4;
      return { kind: "literal", value: null };
    }
    return this.fail("expected a value");
  }

  private object(): ShapeNode {
    this.eat("{");
    if (this.peek() === "<") {
      this.placeholder();
      let value = ANY;
      if (this.peek() === ":") {
        this.i++;
        value = this.value();
      }
      this.eat("}");
      return { kind: "map", value };
    }
    const members: { key: string; optional: boolean; value: ShapeNode }[] = [];
    while (this.peek() !== "}") {
      if (members.length > 0) this.eat(",");
      const key = this.string();
      if (members.some((m) => m.key === key)) this.fail(`key "${key}" twice`);
      let optional = false;
      if (this.peek() === "?") {
        this.i++;
        optional = true;
      }
      let value = ANY;
      if (this.peek() === ":") {
        this.i++;
        value = this.value();
      }
      members.push({ key, optional, value });
    }
    this.eat("}");
    return { kind: "object", members };
  }

  private list(): ShapeNode {
    this.eat("[");
    let item = ANY;
    if (/[A-Za-z]/.test(this.peek()) && !this.text.startsWith("null", this.i)) {
      while (/[A-Za-z ]/.test(this.text[this.i] ?? "")) this.i++;
    } else item = this.value();
    this.eat("]");
    return { kind: "list", item };
  }
}

/** Parses a declaration; a malformed one throws at load, so a typo in a help text cannot ship. */
export function jsonShape(text: string): JsonShape {
  return { text, root: new Parser(text).parse() };
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : JSON.stringify(v));

function check(node: ShapeNode, value: unknown, at: string, problems: string[]): void {
  switch (node.kind) {
    case "any":
      return;
    case "literal":
      if (value !== node.value) problems.push(`${at}: expected ${JSON.stringify(node.value)}, got ${describe(value)}`);
      return;
    case "either": {
      if (node.options.every((o) => o.kind === "literal")) {
        const values = node.options.map((o) => (o as { value: string | null }).value);
        if (!values.includes(value as string | null)) problems.push(`${at}: expected ${values.map((v) => JSON.stringify(v)).join(" or ")}, got ${describe(value)}`);
        return;
      }
      // Report the closest option's problems; for an object or list, an option that is one is closer than a literal.
      const structured = value !== null && typeof value === "object";
      const tries = node.options.map((o) => {
        const p: string[] = [];
        check(o, value, at, p);
        return { p, rank: p.length + (structured && o.kind === "literal" ? 0.5 : 0) };
      });
      if (tries.every((t) => t.p.length > 0)) problems.push(tries.sort((a, b) => a.rank - b.rank)[0]!.p.join("; "));
      return;
    }
    case "list":
      if (!Array.isArray(value)) problems.push(`${at}: expected a list, got ${describe(value)}`);
      else value.forEach((item, i) => check(node.item, item, `${at}[${i}]`, problems));
      return;
    case "map":
      if (value === null || typeof value !== "object" || Array.isArray(value)) problems.push(`${at}: expected an object, got ${describe(value)}`);
      else for (const [k, v] of Object.entries(value)) check(node.value, v, `${at}.${k}`, problems);
      return;
    case "object": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        problems.push(`${at}: expected an object, got ${describe(value)}`);
        return;
      }
      const record = value as Record<string, unknown>;
      for (const m of node.members) {
        if (!(m.key in record)) {
          if (!m.optional) problems.push(`${at}: key "${m.key}" declared but missing`);
        } else check(m.value, record[m.key], `${at}.${m.key}`, problems);
      }
      for (const key of Object.keys(record)) {
        if (!node.members.some((m) => m.key === key)) problems.push(`${at}: key "${key}" printed but not declared`);
      }
    }
  }
}

/** Where a document departs from its declared shape, one line each; empty when it matches. */
export function shapeProblems(shape: JsonShape, document: unknown): string[] {
  const problems: string[] = [];
  check(shape.root, document, "$", problems);
  return problems;
}

/**
 * The declaration wrapped for a help text: lines of at most `width` characters, broken after
 * a comma, continued at `indent`.
 */
export function wrapShape(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const piece of text.split(/(?<=,)/)) {
    if (line.length > 0 && line.length + piece.length > width) {
      lines.push(line);
      line = "";
    }
    line += piece;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}
