/**
 * The tools recipes: wrapper go.mod files built from upstream's own go.mod text, cache keys
 * that move with the pin, and binary lookup in the documented order.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ALL_TOOL_NAMES,
  OPTIONAL_TOOL_NAMES,
  TOOL_NAMES,
  goDirectives,
  hamiLdflags,
  kubernetesLdflags,
  kubernetesWrapperGoMod,
  pinHash,
  providerGoMod,
  pseudoVersion,
  pulumiWrapperGoMod,
  readPins,
  stagingModules,
} from "../../cli/tools/recipes";
import { DEBIAN_PACKAGES, ensureDebianPackages, findCommand, onPath, parseDebianPackages } from "../../cli/tools/debian";
import { locateBinary, toolCacheDir, toolsCacheRoot } from "../../cli/tools/resolve";
import { runGpk } from "./run-gpk";
import { expectJsonShape } from "./json-shape-assert";

const K8S_MOD = `module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
	github.com/blang/semver/v4 v4.0.0
	k8s.io/api v0.0.0
	k8s.io/apimachinery v0.0.0
	k8s.io/client-go v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
	k8s.io/client-go => ./staging/src/k8s.io/client-go
)
`;

describe("tool pins", () => {
  const pins = readPins();

  it("pin every tool the binaries runtime runs, at exact versions", () => {
    expect(Object.keys(pins).sort()).toEqual([...ALL_TOOL_NAMES].sort());
    for (const name of ALL_TOOL_NAMES) expect(pins[name].version).toMatch(/^v\d+\.\d+\.\d+(-[0-9a-z.-]+)?$/);
    expect(pins.kubernetes.stagingVersion).toBe(pins.kubernetes.version.replace(/^v1\./, "v0."));
  });

  it("build the node's kubelet and kube-proxy from exactly the control plane's module and version", () => {
    // Version skew: a kubelet newer than its API server is unsupported; the kit runs them equal.
    const { packages, ...nodeBuild } = pins.kubelet;
    const { packages: _controlPlane, ...controlPlaneBuild } = pins.kubernetes;
    expect(nodeBuild).toEqual(controlPlaneBuild);
    expect(packages).toEqual(["cmd/kubelet", "cmd/kube-proxy"]);
  });

  it("pins the Pulumi CLI at the @pulumi/pulumi SDK version in the lockfile", () => {
    const lock = JSON.parse(fs.readFileSync(path.join(__dirname, "../../package-lock.json"), "utf8"));
    expect(pins.pulumi.version).toBe(`v${lock.packages["node_modules/@pulumi/pulumi"].version}`);
  });

  it("build HAMi only when named: a benchmark's peer adds nothing to the default build", () => {
    expect(OPTIONAL_TOOL_NAMES).toEqual(["hami"]);
    expect(TOOL_NAMES).not.toContain("hami");
  });

  it("pin HAMi at its release's commit, by the pseudo-version the go command gives that commit", () => {
    const pin = pins.hami;
    expect(pin.module).toBe("github.com/Project-HAMi/HAMi");
    expect(pin.tag).toMatch(/^v2\.\d+\.\d+$/);
    expect(pin.version).toMatch(/^v0\.0\.0-\d{14}-[0-9a-f]{12}$/);
    expect(pin.version.endsWith(`-${pin.commit.slice(0, 12)}`)).toBe(true);
    // v2.10.0's commit, made 2026-08-21 06:20:39 UTC.
    expect(pseudoVersion(pin.commit, new Date("2026-08-21T06:20:39Z"))).toBe(pin.version);
    expect(() => pseudoVersion("4707fb0", new Date())).toThrow(/expected 40 lowercase hex digits/);
    const flags = hamiLdflags(pin);
    expect(flags).toContain(`-X github.com/Project-HAMi/HAMi/pkg/version.version=${pin.tag}`);
    expect(flags).toContain(`-X github.com/Project-HAMi/HAMi/pkg/version.revision=${pin.commit}`);
  });

  it("key each tool's cache by its own pin: changing one pin moves only that tool", () => {
    const changed = { ...pins, kine: { ...pins.kine, version: "v0.0.1" } };
    expect(pinHash("kine", changed)).not.toBe(pinHash("kine", pins));
    expect(pinHash("kubernetes", changed)).toBe(pinHash("kubernetes", pins));
    expect(toolCacheDir("kine", pins, { HOME: "/h" })).toBe(`/h/.cache/gpk/tools/kine-${pinHash("kine", pins)}`);
    expect(toolsCacheRoot({ GPK_TOOLS_DIR: "/t", HOME: "/h" })).toBe("/t");
    expect(toolsCacheRoot({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/gpk/tools");
  });
});

describe("wrapper modules", () => {
  const pins = readPins();

  it("repeat every staging replace with the tag's staging version, and upstream's go and godebug lines", () => {
    expect(stagingModules(K8S_MOD)).toEqual(["k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go"]);
    expect(goDirectives(K8S_MOD)).toEqual(["go 1.25.0", "godebug default=go1.25"]);
    const mod = kubernetesWrapperGoMod(pins.kubernetes, K8S_MOD);
    expect(mod).toContain(`require k8s.io/kubernetes ${pins.kubernetes.version}\n`);
    expect(mod).toContain(`\tk8s.io/client-go => k8s.io/client-go ${pins.kubernetes.stagingVersion}\n`);
    expect(mod).toContain("go 1.25.0\ngodebug default=go1.25\n");
    expect(mod).not.toContain("./staging");
  });

  it("refuse an upstream go.mod without staging requirements", () => {
    expect(() => kubernetesWrapperGoMod(pins.kubernetes, "module x\n\ngo 1.25\n")).toThrow(/no k8s.io\/\* v0.0.0 staging requirements/);
  });

  it("require Pulumi's pkg and sdk at one tag and repeat the clipboard replace", () => {
    const mod = pulumiWrapperGoMod(pins.pulumi, "module github.com/pulumi/pulumi/pkg/v3\n\ngo 1.25.11\n");
    expect(mod).toContain(`\tgithub.com/pulumi/pulumi/pkg/v3 ${pins.pulumi.version}\n\tgithub.com/pulumi/pulumi/sdk/v3 ${pins.pulumi.version}\n`);
    expect(mod).toContain("replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e");
    expect(mod).toContain("go 1.25.11");
  });

  it("drop only the provider's ../sdk replace", () => {
    const upstream = `module github.com/pulumi/pulumi-kubernetes/provider/v4\n\ngo 1.24.7\n\nreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 => ../sdk\n\nrequire github.com/pulumi/pulumi-kubernetes/sdk/v4 ${pins.pulumiKubernetes.sdkVersion}\nreplace example.com/a => example.com/b v1.0.0\n`;
    const mod = providerGoMod(pins.pulumiKubernetes, upstream);
    expect(mod).not.toContain("../sdk");
    expect(mod).toContain("replace example.com/a => example.com/b v1.0.0");
    expect(() => providerGoMod({ ...pins.pulumiKubernetes, sdkVersion: "v9.9.9" }, upstream)).toThrow(/does not require .*v9.9.9/);
  });

  it("stamp the Kubernetes version into both version packages", () => {
    const flags = kubernetesLdflags(pins.kubernetes);
    expect(flags).toContain(`-X k8s.io/component-base/version.gitVersion=${pins.kubernetes.version}`);
    expect(flags).toContain("-X k8s.io/client-go/pkg/version.gitMinor=35");
    expect(() => kubernetesLdflags({ ...pins.kubernetes, version: "latest" })).toThrow(/vMAJOR.MINOR.PATCH/);
  });
});

describe("binary lookup", () => {
  const pins = readPins();
  const dir = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `gpk-tools-${name}-`));
  const exe = (folder: string, bin: string) => {
    fs.writeFileSync(path.join(folder, bin), "#!/bin/sh\n", { mode: 0o755 });
    return path.join(folder, bin);
  };

  it("prefers GPK_TOOLS_DIR, then KUBEBUILDER_ASSETS (control plane only), then the cache, then PATH", () => {
    const [flat, assets, home, onPath] = [dir("flat"), dir("assets"), dir("home"), dir("path")];
    const env = { HOME: home, PATH: onPath, KUBEBUILDER_ASSETS: assets } as NodeJS.ProcessEnv;
    expect(locateBinary("kube-apiserver", "kubernetes", pins, env)).toBeUndefined();
    exe(onPath, "kube-apiserver");
    expect(locateBinary("kube-apiserver", "kubernetes", pins, env)).toMatchObject({ source: "PATH" });
    const cacheBin = path.join(toolCacheDir("kubernetes", pins, env), "bin");
    fs.mkdirSync(cacheBin, { recursive: true });
    exe(cacheBin, "kube-apiserver");
    expect(locateBinary("kube-apiserver", "kubernetes", pins, env)).toMatchObject({ source: "cache" });
    exe(assets, "kube-apiserver");
    exe(assets, "kube-scheduler");
    expect(locateBinary("kube-apiserver", "kubernetes", pins, env)).toMatchObject({ source: "KUBEBUILDER_ASSETS" });
    // envtest ships no scheduler: KUBEBUILDER_ASSETS is not searched for one.
    expect(locateBinary("kube-scheduler", "kubernetes", pins, env)).toBeUndefined();
    exe(flat, "kube-apiserver");
    expect(locateBinary("kube-apiserver", "kubernetes", pins, { ...env, GPK_TOOLS_DIR: flat })).toMatchObject({ source: "GPK_TOOLS_DIR", path: path.join(flat, "kube-apiserver") });
  });

  it("gpk tools status exits 1 naming what is missing, and --only refuses an unknown tool", () => {
    const empty = dir("empty");
    const run = runGpk(["tools", "status", "--json"], { env: { GPK_TOOLS_DIR: empty, PATH: empty, KUBEBUILDER_ASSETS: "" } });
    expect(run.status).toBe(1);
    const statuses = expectJsonShape("tools", "status", run.stdout) as { tool: string; missing: string[] }[];
    expect(statuses.find((s) => s.tool === "kubernetes")?.missing).toEqual(["kube-apiserver", "kube-controller-manager", "kube-scheduler"]);
    const bad = runGpk(["tools", "build", "--only", "etcd"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('gpk tools: --only: unknown tool "etcd"; tools: kubernetes, kubelet, crictl, kine, kwok, pulumi, pulumiKubernetes, hami');
  });
});

describe("Debian packages of the e2e peers", () => {
  it("list each package with the command it provides, and name a bad line", () => {
    const shipped = parseDebianPackages(fs.readFileSync(DEBIAN_PACKAGES, "utf8"));
    expect(shipped).toContainEqual({ name: "redis-server", command: "redis-server" });
    expect(parseDebianPackages("# comment\nprometheus  promtool # for rules\n\n")).toEqual([{ name: "prometheus", command: "promtool" }]);
    expect(() => parseDebianPackages("redis-server\n", "list.txt")).toThrow('list.txt:1: expected "<debian-package> <command>", got "redis-server"');
  });

  it("find a command on PATH only where it is executable", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-onpath-"));
    fs.writeFileSync(path.join(dir, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "data"), "", { mode: 0o644 });
    expect(onPath("tool", { PATH: dir })).toBe(path.join(dir, "tool"));
    expect(onPath("data", { PATH: dir })).toBeUndefined();
  });

  it("take a command outside PATH by its absolute path (the CNI plugins live in /usr/lib/cni)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-abs-"));
    fs.writeFileSync(path.join(dir, "bridge"), "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "conf"), "", { mode: 0o644 });
    expect(findCommand(path.join(dir, "bridge"), { PATH: "" })).toBe(path.join(dir, "bridge"));
    expect(findCommand(path.join(dir, "conf"), { PATH: "" })).toBeUndefined();
    expect(findCommand("bridge", { PATH: dir })).toBe(path.join(dir, "bridge"));
    expect(parseDebianPackages(fs.readFileSync(DEBIAN_PACKAGES, "utf8"))).toContainEqual({ name: "containernetworking-plugins", command: "/usr/lib/cni/bridge" });
  });

  it("gpk tools system exits 1 naming the install command when it cannot install", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-debian-"));
    const list = path.join(dir, "packages.txt");
    fs.writeFileSync(list, "gpk-no-such-package gpk-no-such-command\n");
    // Not root, or no apt-get: the error says what to run instead of trying.
    const noApt = { PATH: dir } as NodeJS.ProcessEnv;
    expect(() => withPath(noApt, () => ensureDebianPackages(() => {}, list))).toThrow("missing gpk-no-such-command; install as root: apt-get install -y gpk-no-such-package");
  });
});

function withPath<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = env.PATH;
  try {
    return fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe("gpk tools images", () => {
  it("builds the pause and runtime images as OCI archives and names each by digest", () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-images-"));
    const run = runGpk(["tools", "images", "--json"], { env: { GPK_TOOLS_DIR: cache } });
    expect(run.status, run.stderr).toBe(0);
    const images = expectJsonShape("tools", "images", run.stdout) as { name: string; ref: string; archive: string }[];
    expect(images.map((i) => i.name.replace(/:.*/, ""))).toEqual(["gpk.local/pause", "gpk.local/gpk-runtime"]);
    for (const image of images) {
      expect(image.ref).toMatch(new RegExp(`^${image.name.replace(/[.]/g, "\\.")}@sha256:[0-9a-f]{64}$`));
      expect(image.archive.startsWith(cache)).toBe(true);
      expect(fs.statSync(image.archive).size).toBeGreaterThan(0);
    }
    fs.rmSync(cache, { recursive: true, force: true });
  }, 120_000);

  it("refuses --only, which names tools, not images", () => {
    const run = runGpk(["tools", "images", "--only", "kubelet"]);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe("gpk tools: --only goes with build and status");
  });
});
