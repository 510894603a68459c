/**
 * Validates rendered Kubernetes objects against upstream schemas: core kinds through
 * kubernetes-models (the OpenAPI schemas of Kubernetes itself), custom resources through
 * the `openAPIV3Schema` of their CRDs (e.g. the KubeRay v1.7.0 CRDs).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import standaloneCode from "ajv/dist/standalone";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./stack-files";
import type { RenderedResource, SchemaError } from "./types";
import { CRD_SCHEMA_ROOT } from "../../data/paths";

/**
 * Folders of CRD YAML files to validate custom resources with: the ones the kit ships in
 * data/schemas, then any in `GPK_CRD_SCHEMA_DIRS` (path-separated), which add to them (a kind defined twice takes the later schema).
 */
export function crdSchemaDirs(): string[] {
  const shipped = fs.readdirSync(CRD_SCHEMA_ROOT).map((d) => path.join(CRD_SCHEMA_ROOT, d));
  const extra = (process.env.GPK_CRD_SCHEMA_DIRS ?? "").split(path.delimiter).filter(Boolean);
  return [...shipped, ...extra];
}

/** `kubernetes:apps/v1:Deployment` → apiVersion `apps/v1`, kind `Deployment`; core → `v1`. */
export function kubernetesKind(type: string): { apiVersion: string; kind: string } | undefined {
  const match = /^kubernetes:([^/:]+)\/([^:]+):([A-Za-z0-9]+)$/.exec(type);
  if (!match || match[1] === "helm.sh" || match[1] === "yaml") return undefined;
  const [, group, version, kind] = match;
  return { apiVersion: group === "core" ? version! : `${group}/${version}`, kind: kind! };
}

/** `/spec/template/spec/containers/0/image` → `spec.template.spec.containers[0].image`. */
export function jsonPointerToPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
}

function describeAjvError(error: ErrorObject): { path: string; message: string } {
  const base = jsonPointerToPath(error.instancePath);
  if (error.keyword === "required") {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return { path: base ? `${base}.${missing}` : missing, message: "is required" };
  }
  if (error.keyword === "additionalProperties") {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return { path: base ? `${base}.${extra}` : extra, message: "is not a known field" };
  }
  if (error.keyword === "enum") {
    return { path: base, message: `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}` };
  }
  return { path: base, message: error.message ?? error.keyword };
}

const CACHE_DIR = path.join(REPO_ROOT, "node_modules", ".cache", "gpk");

/** `group/version:Kind` → openAPIV3Schema of every version of every CRD in a YAML file. */
export function crdSchemasOf(file: string): Record<string, object> {
  const stat = fs.statSync(file);
  const cacheKey = createHash("sha256").update(`${path.resolve(file)}:${stat.size}:${stat.mtimeMs}`).digest("hex").slice(0, 16);
  const cacheFile = path.join(CACHE_DIR, `crd-${cacheKey}.json`);
  try {
    return JSON.parse(fs.readFileSync(cacheFile, "utf8"));
  } catch {
    // Not cached yet.
  }
  const schemas: Record<string, object> = {};
  for (const doc of parseAllDocuments(fs.readFileSync(file, "utf8"))) {
    const crd = doc.toJS();
    if (crd?.kind !== "CustomResourceDefinition") continue;
    for (const version of crd.spec?.versions ?? []) {
      const schema = version.schema?.openAPIV3Schema;
      if (schema) schemas[`${crd.spec.group}/${version.name}:${crd.spec.names.kind}`] = schema;
    }
  }
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    fs.writeFileSync(cacheFile, JSON.stringify(schemas));
  } catch {
    // A read-only checkout parses again next time.
  }
  return schemas;
}

/**
 * The kubernetes-models package that holds a kind's schema: Kubernetes' own kinds, and the
 * CRD kinds of operators the kit deploys objects for (Prometheus Operator).
 */
const MODEL_PACKAGES: Record<string, string> = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

function modelModule(apiVersion: string, kind: string): string | undefined {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
  const pkg = MODEL_PACKAGES[group] ?? "kubernetes-models";
  const id = `${pkg}/${apiVersion}/${kind}`;
  try {
    require.resolve(id);
    return id;
  } catch {
    return undefined;
  }
}

type ObjectValidator = (object: Record<string, unknown>) => ErrorObject[];

const AJV_OPTIONS = { strict: false, allErrors: true, validateFormats: false } as const;

/**
 * A compiled validator for a CRD schema. Compiling a KubeRay schema (150 kB of embedded pod
 * specs) takes seconds, so the generated code (ajv "standalone" output) is cached by a hash
 * of the schema, ajv's version and options under node_modules/.cache/gpk, and loaded with
 * `require` (~0.1 s) on later runs. Written to a temp file and renamed, so a concurrent run
 * never loads half a file; anything unreadable is compiled again.
 */
function crdValidator(ajv: Ajv, schema: object): ValidateFunction {
  const version = (require("ajv/package.json") as { version: string }).version;
  const hash = createHash("sha256").update(`${version}\0${JSON.stringify(AJV_OPTIONS)}\0${JSON.stringify(schema)}`).digest("hex").slice(0, 16);
  const file = path.join(CACHE_DIR, `ajv-${hash}.js`);
  try {
    return require(file) as ValidateFunction;
  } catch {
    // Not cached yet (or unreadable): compile below.
  }
  const validate = ajv.compile(schema);
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, standaloneCode(ajv, validate));
    fs.renameSync(tmp, file);
  } catch {
    // A read-only checkout compiles again next time.
  }
  return validate;
}

export class SchemaValidator {
  /** CRD schemas by `group/version:Kind`; compiled on first use (see `crdValidator` for the cache). */
  private readonly crdSchemas = new Map<string, object>();
  private readonly crdValidators = new Map<string, ValidateFunction>();
  private readonly ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });

  private crdsLoaded = false;

  constructor(private readonly crdDirs: string[] = crdSchemaDirs()) {}

  /**
   * Reads the CRD files the first time a kind outside kubernetes-models shows up. Parsing a
   * CRD file is slow (the KubeRay ones embed whole pod specs), so the extracted schemas are
   * cached by file size and mtime under node_modules/.cache/gpk.
   */
  private loadCrds(): void {
    if (this.crdsLoaded) return;
    this.crdsLoaded = true;
    for (const dir of this.crdDirs) {
      for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
        for (const [key, schema] of Object.entries(crdSchemasOf(path.join(dir, file)))) this.crdSchemas.set(key, schema);
      }
    }
  }

  /** A validator for the kind, or undefined when no schema is known for it. */
  private validatorFor(apiVersion: string, kind: string): ObjectValidator | undefined {
    const key = `${apiVersion}:${kind}`;
    const moduleId = modelModule(apiVersion, kind);
    if (!moduleId) this.loadCrds();
    const schema = this.crdSchemas.get(key);
    if (schema && !this.crdValidators.has(key)) this.crdValidators.set(key, crdValidator(this.ajv, schema));
    const crd = this.crdValidators.get(key);
    if (crd) return (object) => (crd(object) ? [] : [...(crd.errors ?? [])]);
    if (!moduleId) return undefined;
    const Model = require(moduleId)[kind] as (new (data: unknown) => { validate(): void }) | undefined;
    if (!Model) return undefined;
    return (object) => {
      try {
        new Model(object).validate();
        return [];
      } catch (err) {
        const errors = (err as { errors?: ErrorObject[] }).errors;
        if (!errors) throw err;
        return errors;
      }
    };
  }

  /** Schema errors of one rendered resource; `undefined` when its kind has no known schema. */
  validate(resource: RenderedResource): SchemaError[] | undefined {
    const kind = kubernetesKind(resource.type);
    if (!kind) return [];
    const validator = this.validatorFor(kind.apiVersion, kind.kind);
    if (!validator) return undefined;
    const object = { apiVersion: kind.apiVersion, kind: kind.kind, ...resource.inputs };
    return validator(object).map((error) => ({ urn: resource.urn, ...describeAjvError(error) }));
  }
}

export interface ValidationReport {
  schemaErrors: SchemaError[];
  /** Kubernetes kinds rendered for which no schema is known (reported, not failed). */
  unvalidatedKinds: string[];
  validatedObjects: number;
}

export function validateResources(resources: RenderedResource[], validator = new SchemaValidator()): ValidationReport {
  const schemaErrors: SchemaError[] = [];
  const unvalidated = new Set<string>();
  let validatedObjects = 0;
  for (const resource of resources) {
    if (!resource.custom || !kubernetesKind(resource.type)) continue;
    const errors = validator.validate(resource);
    if (errors === undefined) unvalidated.add(resource.type);
    else {
      validatedObjects++;
      schemaErrors.push(...errors);
    }
  }
  return { schemaErrors, unvalidatedKinds: [...unvalidated].sort(), validatedObjects };
}
