/**
 * How the upstream tools of the real-engine runtime are built from their Go modules, as
 * data and pure text: the pins (tools/pins.json), the binaries each tool provides, the
 * cache key of a pin, and the wrapper go.mod files. cli/tools/build.ts carries them out.
 *
 * Why wrappers: `go install pkg@version` refuses a module whose go.mod has `replace`
 * lines (k8s.io/kubernetes points its staging modules at ./staging; Pulumi's pkg points
 * sdk at ../sdk and swaps a clipboard fork in). A wrapper module requires the upstream
 * module and repeats the replaces it needs with proxy-served versions.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface KubernetesPin {
  module: string;
  version: string;
  /** Version of the staging modules (k8s.io/api, …) that match `version`: v1.35.4 → v0.35.4. */
  stagingVersion: string;
  packages: string[];
  tags: string;
}
export interface ModulePin {
  module: string;
  version: string;
}
export interface KwokPin extends ModulePin {
  /** Stage files inside the module, concatenated into kwok's --config. */
  stages: string[];
}
export interface PulumiPin extends ModulePin {
  sdkModule: string;
  replace: Record<string, string>;
  tags: string;
}
export interface PulumiKubernetesPin extends ModulePin {
  sdkModule: string;
  sdkVersion: string;
  /** The release the pinned commit's provider code is (it reports this version to the engine). */
  pluginVersion: string;
}
/**
 * HAMi's scheduler extender, the peer `bench:scheduler` can run beside gpk-scheduler. Its module
 * path has no /v2 although its tags are v2.x and it has a go.mod, so the go command takes no tag
 * of it: `version` is the pseudo-version of the tagged commit, and `tag` and `commit` say which
 * release that is.
 */
export interface HamiPin extends ModulePin {
  tag: string;
  commit: string;
  /** The command inside the module that serves the extender API. */
  package: string;
}
export interface ToolPins {
  kubernetes: KubernetesPin;
  /**
   * The node's binaries (kubelet, kube-proxy) from the same module and version as the control
   * plane (test/cli/tools.test.ts holds them equal), in a cache folder of their own so a
   * machine that needs no real nodes never builds them.
   */
  kubelet: KubernetesPin;
  kine: ModulePin;
  kwok: KwokPin;
  /** CRI's command-line client: `gpk local down` stops a real node's pods through it. */
  crictl: ModulePin;
  pulumi: PulumiPin;
  pulumiKubernetes: PulumiKubernetesPin;
  hami: HamiPin;
}
export type ToolName = keyof ToolPins;
/** The tools `gpk tools build` builds by default: what the binaries runtime and its tests run. */
export const TOOL_NAMES: ToolName[] = ["kubernetes", "kubelet", "crictl", "kine", "kwok", "pulumi", "pulumiKubernetes"];
/**
 * Tools built only when named (`gpk tools build --only hami`): a benchmark's peers, which
 * neither the runtime nor CI needs, so they add nothing to a cold build.
 */
export const OPTIONAL_TOOL_NAMES: ToolName[] = ["hami"];
export const ALL_TOOL_NAMES: ToolName[] = [...TOOL_NAMES, ...OPTIONAL_TOOL_NAMES];

/** The executables each tool puts in its bin directory. */
export const TOOL_BINARIES: Record<ToolName, string[]> = {
  kubernetes: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
  kubelet: ["kubelet", "kube-proxy"],
  crictl: ["crictl"],
  kine: ["kine"],
  kwok: ["kwok"],
  pulumi: ["pulumi"],
  pulumiKubernetes: ["pulumi-resource-kubernetes"],
  hami: ["hami-scheduler"],
};

/**
 * Where HAMi's source comes from when the Go module proxy refuses the module: a git
 * repository (a clone of github.com/Project-HAMi/HAMi) that holds the pinned commit.
 */
export const HAMI_SOURCE_ENV = "GPK_HAMI_SOURCE";

/** kwok's stage file, written beside the kwok binary. */
export const KWOK_STAGES_FILE = "kwok-stages.yaml";

/**
 * Bumped when a recipe changes in a way that changes its output (flags, ldflags): the
 * cache key covers the pin and the recipe, so a changed recipe builds afresh.
 */
export const RECIPE_REVISION = 1;

export const PINS_FILE = path.join(__dirname, "..", "..", "tools", "pins.json");

export function readPins(file = PINS_FILE): ToolPins {
  const pins = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<ToolPins>;
  for (const name of ALL_TOOL_NAMES) {
    const pin = pins[name] as Partial<ModulePin> | undefined;
    if (!pin || typeof pin.module !== "string" || typeof pin.version !== "string") {
      throw new Error(`${file}: ${name}: expected {"module", "version", …}`);
    }
  }
  return pins as ToolPins;
}

/** Cache key of one tool: its pin and the recipe revision, so changing either rebuilds only that tool. */
export function pinHash(name: ToolName, pins: ToolPins): string {
  const digest = createHash("sha256").update(JSON.stringify({ name, recipe: RECIPE_REVISION, pin: pins[name] })).digest("hex");
  return digest.slice(0, 12);
}

/** The `k8s.io/<x> v0.0.0` requirements of k8s.io/kubernetes's go.mod: its staging modules. */
export function stagingModules(upstreamGoMod: string): string[] {
  const modules = new Set<string>();
  for (const line of upstreamGoMod.split("\n")) {
    const m = /^\s*(k8s\.io\/[\w.-]+)\s+v0\.0\.0\s*$/.exec(line);
    if (m) modules.add(m[1]!);
  }
  return [...modules].sort();
}

/** The `go` and `godebug` lines of a go.mod, repeated in a wrapper so the build behaves as upstream's. */
export function goDirectives(goMod: string): string[] {
  return goMod.split("\n").filter((line) => /^(go|godebug)\s/.test(line));
}

export function kubernetesWrapperGoMod(pin: KubernetesPin, upstreamGoMod: string): string {
  const staging = stagingModules(upstreamGoMod);
  if (staging.length === 0) throw new Error(`${pin.module}@${pin.version}: go.mod lists no k8s.io/* v0.0.0 staging requirements`);
  return [
    "module gpk.dev/tools/kubernetes",
    "",
    ...goDirectives(upstreamGoMod),
    "",
    `require ${pin.module} ${pin.version}`,
    "",
    "replace (",
    ...staging.map((m) => `\t${m} => ${m} ${pin.stagingVersion}`),
    ")",
    "",
  ].join("\n");
}

export function pulumiWrapperGoMod(pin: PulumiPin, upstreamGoMod: string): string {
  return [
    "module gpk.dev/tools/pulumi",
    "",
    ...goDirectives(upstreamGoMod),
    "",
    "require (",
    `\t${pin.module} ${pin.version}`,
    // pkg's own go.mod points sdk at ../sdk; the same tag of sdk is what that means.
    `\t${pin.sdkModule} ${pin.version}`,
    ")",
    "",
    ...Object.entries(pin.replace).map(([from, to]) => `replace ${from} => ${to}`),
    "",
  ].join("\n");
}

/** The provider's go.mod with its `sdk/v4 => ../sdk` replace dropped: the proxy-served sdk it requires stands in. */
export function providerGoMod(pin: PulumiKubernetesPin, upstreamGoMod: string): string {
  const lines = upstreamGoMod.split("\n").filter((line) => !new RegExp(`^replace\\s+${pin.sdkModule.replace(/[./]/g, "\\$&")}\\s+=>`).test(line));
  const text = lines.join("\n");
  if (!text.includes(`${pin.sdkModule} ${pin.sdkVersion}`)) {
    throw new Error(`${pin.module}@${pin.version}: go.mod does not require ${pin.sdkModule} ${pin.sdkVersion}; update pins.json`);
  }
  return text;
}

/** A Go file that imports the commands to build, so `go mod tidy` keeps what they need. */
export function toolsGoFile(importPaths: string[]): string {
  return ["//go:build tools", "", "package tools", "", "import (", ...importPaths.map((p) => `\t_ "${p}"`), ")", ""].join("\n");
}

/** -X flags so the servers report their real version instead of v0.0.0. */
export function kubernetesLdflags(pin: KubernetesPin): string {
  const m = /^v(\d+)\.(\d+)\./.exec(pin.version);
  if (!m) throw new Error(`kubernetes version ${pin.version}: expected vMAJOR.MINOR.PATCH`);
  const vars = {
    gitVersion: pin.version,
    gitMajor: m[1]!,
    gitMinor: m[2]!,
    gitTreeState: "clean",
    buildDate: "1970-01-01T00:00:00Z",
  };
  const flags = ["-s", "-w"];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    for (const [k, v] of Object.entries(vars)) flags.push(`-X ${pkg}.${k}=${v}`);
  }
  return flags.join(" ");
}

/**
 * HAMi's release stamp, as its Makefile sets it (`-X …/pkg/version.version`, `.revision`),
 * with a fixed build date so the binary depends on the pin alone.
 */
export function hamiLdflags(pin: HamiPin): string {
  const pkg = `${pin.module}/pkg/version`;
  return ["-s", "-w", `-X ${pkg}.version=${pin.tag}`, `-X ${pkg}.revision=${pin.commit}`, `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`].join(" ");
}

/**
 * The pseudo-version the go command gives `commit` made at `committedAt` (UTC) with no
 * usable tag below it: v0.0.0-yyyymmddhhmmss-<12 hex>. pins.json's HAMi version must be this.
 */
export function pseudoVersion(commit: string, committedAt: Date): string {
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`commit ${JSON.stringify(commit)}: expected 40 lowercase hex digits`);
  const stamp = committedAt.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `v0.0.0-${stamp}-${commit.slice(0, 12)}`;
}
