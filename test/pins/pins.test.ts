import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { CHARTS, IMAGES, imageRef, type ImagePin } from "../../components/pins";
import { CRD_SCHEMA_ROOT } from "../../data/paths";

const PINS_SOURCE = path.resolve(__dirname, "../../components/pins.ts");

// Registry grammar, narrowed to what the kit pins (OCI distribution spec, docker reference).
const REPOSITORY = /^(?:[a-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
// semver.org 2.0.0, exact versions only: no ranges, wildcards, leading "v" or spaces.
const EXACT_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?$/;

const images = Object.entries(IMAGES) as [string, ImagePin][];

/** Property names of the object literal assigned to `export const <name>`, in source order. */
function literalKeys(source: ts.SourceFile, name: string): string[] {
  let keys: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === name) {
      let init = node.initializer;
      while (init && (ts.isSatisfiesExpression(init) || ts.isAsExpression(init))) init = init.expression;
      if (init && ts.isObjectLiteralExpression(init)) {
        keys = init.properties.map((p) => {
          if (!p.name || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) {
            throw new Error(`${name} has a computed or spread key`);
          }
          return p.name.text;
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!keys) throw new Error(`no object literal named ${name} in pins.ts`);
  return keys;
}

describe("IMAGES", () => {
  it("pins every image the kit deploys", () => {
    expect(Object.keys(IMAGES).sort()).toEqual(
      ["dcgmExporter",
      "kindNode", "kubeScheduler", "migManager", "node", "nvidiaDevicePlugin", "ray", "rayGpu", "redis", "vllm"].sort(),
    );
  });

  it.each(images)("%s has a repository, a tag and a sha256 digest", (_key, pin) => {
    expect(pin.repository).toMatch(REPOSITORY);
    expect(pin.tag).toMatch(TAG);
    expect(pin.tag).not.toBe("latest");
    expect(pin.digest).toMatch(DIGEST);
  });

  it("never pins one digest under two names", () => {
    const digests = images.map(([, pin]) => pin.digest);
    expect(new Set(digests).size).toBe(digests.length);
  });

  it("pairs the Ray head and GPU images on one Ray and Python version", () => {
    // Ray refuses to join a worker whose Ray or Python version differs from the head's.
    expect(IMAGES.rayGpu.repository).toBe(IMAGES.ray.repository);
    expect(IMAGES.rayGpu.tag).toBe(`${IMAGES.ray.tag}-gpu`);
  });

  it("records the device plugin image of the pinned chart version", () => {
    expect(IMAGES.nvidiaDevicePlugin.tag).toBe(`v${CHARTS.nvidiaDevicePlugin.version}`);
    expect(CHARTS.nvidiaDevicePlugin.defaultImage).toBe(
      `${IMAGES.nvidiaDevicePlugin.repository}:${IMAGES.nvidiaDevicePlugin.tag}`,
    );
  });
});

describe("imageRef", () => {
  it("renders repository:tag@digest", () => {
    const pin = { repository: "registry.example/team/app", tag: "1.2.3", digest: `sha256:${"ab".repeat(32)}` };
    expect(imageRef(pin)).toBe(`registry.example/team/app:1.2.3@sha256:${"ab".repeat(32)}`);
  });

  it.each(images)("%s renders a reference that splits back into its pin", (_key, pin) => {
    const ref = imageRef(pin);
    const at = ref.lastIndexOf("@");
    const colon = ref.lastIndexOf(":", at);
    expect({ repository: ref.slice(0, colon), tag: ref.slice(colon + 1, at), digest: ref.slice(at + 1) }).toEqual({
      repository: pin.repository,
      tag: pin.tag,
      digest: pin.digest,
    });
  });
});

describe("CHARTS", () => {
  it.each(Object.entries(CHARTS))("%s is pinned to an exact semver version", (_key, pin) => {
    expect(pin.version).toMatch(EXACT_SEMVER);
    expect(pin.chart).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
    expect(new URL(pin.repo).protocol).toBe("https:");
  });

  it("rejects ranges and loose versions", () => {
    for (const loose of ["^0.17.1", "~4.1.1", ">=1.7.0", "1.7.x", "1.7", "v1.7.0", "1.7.0 || 1.8.0", "*"]) {
      expect(loose).not.toMatch(EXACT_SEMVER);
    }
  });

  it("matches the KubeRay CRD schemas shipped in data/schemas", () => {
    const schemas = CRD_SCHEMA_ROOT;
    expect(fs.existsSync(path.join(schemas, `kuberay-v${CHARTS.kuberayOperator.version}`))).toBe(true);
  });
});

describe("pins.ts source", () => {
  const source = ts.createSourceFile(PINS_SOURCE, fs.readFileSync(PINS_SOURCE, "utf8"), ts.ScriptTarget.Latest, true);

  it.each(["IMAGES", "CHARTS"])("%s declares no key twice", (name) => {
    // A repeated key silently overwrites the earlier pin at runtime, so check the literal itself.
    const keys = literalKeys(source, name);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it("names where and when every image pin was seen", () => {
    // Each IMAGES entry carries a doc comment with a "Seen YYYY-MM-DD" (or "same sighting as") note.
    const text = source.getFullText();
    const start = text.indexOf("export const IMAGES");
    for (const key of Object.keys(IMAGES)) {
      const at = text.indexOf(`\n  ${key}: {`, start);
      expect(at, key).toBeGreaterThan(start);
      const comment = text.slice(text.lastIndexOf("/**", at), at);
      expect(comment, key).toMatch(/Seen \d{4}-\d{2}-\d{2}|same sighting/);
    }
  });
});
