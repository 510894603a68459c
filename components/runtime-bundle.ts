/**
 * Runtime bundles: `runtime/<pkg>/main.ts` bundled by esbuild into one file that runs as
 * `node /opt/gpk/<pkg>.js` on the pinned Node image. The bundle ships in an immutable
 * ConfigMap named after its content hash, and the hash goes into the pod template, so a
 * changed runtime rolls the pods. A stack that names a runtime image uses that instead.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { buildSync } from "esbuild";
import { KIT_ANNOTATIONS, KIT_LABELS, MANAGED_BY } from "../gpu";
import { IMAGES, imageRef } from "./pins";
import { restrictedContainerSecurity } from "./pod-security";

/** Where bundles are mounted (or baked) in the container. */
export const RUNTIME_DIR = "/opt/gpk";
/** Pod-template annotation carrying the bundle's content hash. */
export const RUNTIME_HASH_ANNOTATION = KIT_ANNOTATIONS.runtimeHash;
/**
 * A ConfigMap (like any object) is stored in etcd and capped at 1 MiB in total
 * (Kubernetes docs, "ConfigMaps"); keep room for metadata.
 */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024 - 16 * 1024;
/** UID of the `node` user in the official Node images. */
export const NODE_IMAGE_UID = 1000;

const REPO_ROOT = path.resolve(__dirname, "..");

export interface RuntimeBundle {
  pkg: string;
  /** File name inside /opt/gpk, e.g. `telemetry.js`. */
  fileName: string;
  code: string;
  bytes: number;
  sha256: string;
  /** Source files inlined into the bundle (esbuild metafile), relative to the repo root. */
  inputs: string[];
}

const bundleCache = new Map<string, RuntimeBundle>();

/** Bundles `runtime/<pkg>/main.ts` (all dependencies inlined, minified, Node 20 target). */
export function bundleRuntime(pkg: string, rootDir: string = REPO_ROOT): RuntimeBundle {
  const cacheKey = `${rootDir}:${pkg}`;
  const cached = bundleCache.get(cacheKey);
  if (cached) return cached;
  const entry = path.join(rootDir, "runtime", pkg, "main.ts");
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    write: false,
    legalComments: "none",
    logLevel: "silent",
    absWorkingDir: rootDir,
    metafile: true,
  });
  const code = result.outputFiles[0]!.text;
  const bundle: RuntimeBundle = {
    pkg,
    fileName: `${pkg}.js`,
    code,
    bytes: Buffer.byteLength(code),
    sha256: createHash("sha256").update(code).digest("hex"),
    inputs: Object.keys(result.metafile.inputs),
  };
  bundleCache.set(cacheKey, bundle);
  return bundle;
}

/** Throws a clear error when a bundle cannot ship in a ConfigMap. */
export function assertFitsConfigMap(bundle: RuntimeBundle): void {
  if (bundle.bytes > CONFIGMAP_LIMIT_BYTES) {
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    throw new pulumi.InputPropertyError({
      propertyPath: "pkg",
      reason: `The runtime bundle \`${bundle.pkg}\` is ${kib(bundle.bytes)}, over the ${kib(CONFIGMAP_LIMIT_BYTES)} a ConfigMap can hold; set \`gpk:runtime.image\` to an image that contains ${RUNTIME_DIR}/${bundle.fileName}.`,
    });
  }
}

/** The `node` user of the official Node images, as a RunAs. */
export const NODE_IMAGE_USER = { uid: NODE_IMAGE_UID, gid: NODE_IMAGE_UID } as const;

/** Security context of a runtime container: Pod Security `restricted` as the `node` user, read-only root. */
export function runtimeContainerSecurity() {
  return restrictedContainerSecurity({ runAs: NODE_IMAGE_USER, readOnlyRootFilesystem: true });
}

export interface RuntimeBundleArgs {
  /** Runtime package, i.e. the folder under runtime/. */
  pkg: string;
  /** Namespace of the ConfigMap (the workload's namespace). */
  namespace: pulumi.Input<string>;
  /** Image that already contains /opt/gpk/<pkg>.js. Default: ship the bundle in a ConfigMap and run it on the pinned Node image. */
  image?: string;
}

/** A container spec fragment plus the volume and annotation a workload needs to run a bundle. */
export interface RuntimeBundlePodParts {
  image: string;
  command: string[];
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
  volumes: { name: string; configMap: { name: pulumi.Input<string> } }[];
  annotations: Record<string, string>;
}

export class RuntimeBundleConfigMap extends pulumi.ComponentResource {
  public readonly bundle: RuntimeBundle;
  public readonly configMap?: k8s.core.v1.ConfigMap;
  /** What a pod template needs to run the bundle. */
  public readonly podParts: RuntimeBundlePodParts;

  constructor(name: string, args: RuntimeBundleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:RuntimeBundle", name, {}, opts);
    this.bundle = bundleRuntime(args.pkg);
    const command = ["node", `${RUNTIME_DIR}/${this.bundle.fileName}`];
    const annotations = { [RUNTIME_HASH_ANNOTATION]: this.bundle.sha256 };
    if (args.image) {
      this.podParts = { image: args.image, command, volumeMounts: [], volumes: [], annotations };
    } else {
      assertFitsConfigMap(this.bundle);
      this.configMap = new k8s.core.v1.ConfigMap(name, {
        metadata: {
          // Content-addressed and immutable: a new runtime is a new ConfigMap, never an edit in place.
          name: `gpk-${args.pkg}-${this.bundle.sha256.slice(0, 10)}`,
          namespace: args.namespace,
          labels: { [KIT_LABELS.managedBy]: MANAGED_BY, "app.kubernetes.io/component": `runtime-${args.pkg}` },
        },
        immutable: true,
        data: { [this.bundle.fileName]: this.bundle.code },
      }, { parent: this });
      const volumeName = "gpk-runtime";
      this.podParts = {
        image: imageRef(IMAGES.node),
        command,
        volumeMounts: [{ name: volumeName, mountPath: RUNTIME_DIR, readOnly: true }],
        volumes: [{ name: volumeName, configMap: { name: this.configMap.metadata.name } }],
        annotations,
      };
    }
    this.registerOutputs({ pkg: args.pkg, sha256: this.bundle.sha256, bytes: this.bundle.bytes });
  }
}
