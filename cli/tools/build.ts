/**
 * Builds the pinned upstream tools from their Go modules into the cache (idempotent: a
 * tool whose binaries are already found is skipped). Each tool builds into `bin.tmp`
 * and is renamed to `bin` only when complete, so an interrupted build never leaves a
 * half-written tool behind. Go's own output goes to `<tool dir>/build.log`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  HAMI_SOURCE_ENV,
  KWOK_STAGES_FILE,
  TOOL_BINARIES,
  hamiLdflags,
  kubernetesLdflags,
  kubernetesWrapperGoMod,
  providerGoMod,
  pulumiWrapperGoMod,
  toolsGoFile,
  type HamiPin,
  type KubernetesPin,
  type ToolName,
  type ToolPins,
} from "./recipes";
import { toolCacheDir, toolStatus, toolsCacheRoot, type LocatedBinary } from "./resolve";

export interface BuildReport {
  tool: ToolName;
  version: string;
  built: boolean;
  seconds: number;
  binaries: LocatedBinary[];
}

interface GoContext {
  env: NodeJS.ProcessEnv;
  log: string;
}

class ToolBuildError extends Error {}

async function go(ctx: GoContext, args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<string> {
  const { execa } = await import("execa");
  fs.appendFileSync(ctx.log, `\n$ (cd ${cwd} && go ${args.join(" ")})\n`);
  const result = await execa("go", args, { cwd, env: { ...ctx.env, ...extraEnv }, reject: false, all: true });
  fs.appendFileSync(ctx.log, result.all ?? "");
  if ((result as { code?: string }).code === "ENOENT") throw new ToolBuildError("go is not on PATH: install Go 1.26 or newer");
  if (result.exitCode !== 0) {
    const tail = (result.all ?? "").trim().split("\n").slice(-8).join(" | ");
    throw new ToolBuildError(`\`go ${args.join(" ")}\` exited ${result.exitCode} (log: ${ctx.log}): ${tail}`);
  }
  return result.stdout;
}

/** `go mod download -json mod@version`, run outside any module; returns the module's folder and go.mod text. */
async function download(ctx: GoContext, module: string, version: string, cwd: string): Promise<{ dir: string; goMod: string }> {
  const info = JSON.parse(await go(ctx, ["mod", "download", "-json", `${module}@${version}`], cwd)) as { Dir?: string; GoMod?: string; Error?: string };
  if (info.Error || !info.Dir || !info.GoMod) throw new ToolBuildError(`${module}@${version}: ${info.Error ?? "the proxy gave no module folder"}`);
  return { dir: info.Dir, goMod: fs.readFileSync(info.GoMod, "utf8") };
}

function writeFresh(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

type Recipe = (ctx: GoContext, pins: ToolPins, toolDir: string, binTmp: string) => Promise<void>;

/** k8s.io/kubernetes commands through a wrapper module (the control plane, and the node's binaries). */
async function buildKubernetes(ctx: GoContext, pin: KubernetesPin, toolDir: string, binTmp: string): Promise<void> {
  const upstream = await download(ctx, pin.module, pin.version, toolDir);
  const wrapper = path.join(toolDir, "wrapper");
  const packages = pin.packages.map((p) => `${pin.module}/${p}`);
  writeFresh(wrapper, { "go.mod": kubernetesWrapperGoMod(pin, upstream.goMod), "tools.go": toolsGoFile(packages) });
  await go(ctx, ["mod", "tidy"], wrapper);
  await go(ctx, ["build", "-tags", pin.tags, "-ldflags", kubernetesLdflags(pin), "-o", `${binTmp}/`, ...packages], wrapper);
}

/**
 * HAMi's source at the pinned commit, in a writable `<toolDir>/src`: from the Go module proxy,
 * or where the proxy refuses the module, from the git repository $GPK_HAMI_SOURCE names.
 */
async function hamiSource(ctx: GoContext, pin: HamiPin, toolDir: string): Promise<string> {
  const src = path.join(toolDir, "src");
  fs.rmSync(src, { recursive: true, force: true });
  let refused: string;
  try {
    const upstream = await download(ctx, pin.module, pin.version, toolDir);
    fs.cpSync(upstream.dir, src, { recursive: true });
    makeWritable(src);
    return src;
  } catch (err) {
    if (!(err instanceof ToolBuildError)) throw err;
    // `go mod download -json` says why in its Error field; its first line is the proxy's answer.
    const field = /"Error": ("(?:[^"\\]|\\.)*")/.exec(err.message)?.[1];
    refused = field ? String(JSON.parse(field)).split("\n")[0]! : err.message;
  }
  const repo = ctx.env[HAMI_SOURCE_ENV];
  const wanted = `commit ${pin.commit} (${pin.tag})`;
  if (!repo) throw new ToolBuildError(`hami: the Go module proxy did not give ${pin.module}@${pin.version} (${refused}); set ${HAMI_SOURCE_ENV} to a git clone of ${pin.module} that holds ${wanted}`);
  const { execa } = await import("execa");
  const found = await execa("git", ["-C", repo, "cat-file", "-e", `${pin.commit}^{commit}`], { reject: false });
  if (found.exitCode !== 0) {
    const why = String(found.stderr || found.message || `git exited ${found.exitCode}`).trim().split("\n")[0];
    throw new ToolBuildError(`${HAMI_SOURCE_ENV}=${repo}: no ${wanted} there (${why})`);
  }
  const archive = path.join(toolDir, "src.tar");
  fs.appendFileSync(ctx.log, `\n$ git -C ${repo} archive ${pin.commit} (the proxy refused the module)\n`);
  await execa("git", ["-C", repo, "archive", "--format=tar", `--output=${archive}`, pin.commit]);
  fs.mkdirSync(src, { recursive: true });
  await execa("tar", ["-xf", archive, "-C", src]);
  fs.rmSync(archive);
  const goMod = fs.readFileSync(path.join(src, "go.mod"), "utf8");
  if (!new RegExp(`^module ${pin.module.replace(/[./]/g, "\\$&")}\\s*$`, "m").test(goMod)) throw new ToolBuildError(`${HAMI_SOURCE_ENV}=${repo}: ${pin.commit}'s go.mod is not module ${pin.module}`);
  return src;
}

const RECIPES: Record<ToolName, Recipe> = {
  kubernetes: (ctx, pins, toolDir, binTmp) => buildKubernetes(ctx, pins.kubernetes, toolDir, binTmp),
  kubelet: (ctx, pins, toolDir, binTmp) => buildKubernetes(ctx, pins.kubelet, toolDir, binTmp),
  async crictl(ctx, pins, toolDir, binTmp) {
    const pin = pins.crictl;
    await go(ctx, ["install", "-ldflags", `-s -w -X ${pin.module}/pkg/version.Version=${pin.version}`, `${pin.module}/cmd/crictl@${pin.version}`], toolDir, { GOBIN: binTmp });
  },
  async kine(ctx, pins, toolDir, binTmp) {
    const pin = pins.kine;
    // No replace lines upstream: go install builds it as published. CGO off selects its pure-Go SQLite.
    await go(ctx, ["install", "-ldflags", `-s -w -X ${pin.module}/pkg/version.Version=${pin.version}`, `${pin.module}@${pin.version}`], toolDir, { GOBIN: binTmp });
  },
  async kwok(ctx, pins, toolDir, binTmp) {
    const pin = pins.kwok;
    await go(ctx, ["install", "-ldflags", "-s -w", `${pin.module}/cmd/kwok@${pin.version}`], toolDir, { GOBIN: binTmp });
    await writeKwokStages(ctx, pins, toolDir);
  },
  async pulumi(ctx, pins, toolDir, binTmp) {
    const pin = pins.pulumi;
    const upstream = await download(ctx, pin.module, pin.version, toolDir);
    const wrapper = path.join(toolDir, "wrapper");
    const cmd = `${pin.module}/cmd/pulumi`;
    writeFresh(wrapper, { "go.mod": pulumiWrapperGoMod(pin, upstream.goMod), "tools.go": toolsGoFile([cmd]) });
    await go(ctx, ["mod", "tidy"], wrapper);
    const ldflags = `-s -w -X ${pin.sdkModule}/go/common/version.Version=${pin.version}`;
    await go(ctx, ["build", "-tags", pin.tags, "-ldflags", ldflags, "-o", `${binTmp}/`, cmd], wrapper);
  },
  async pulumiKubernetes(ctx, pins, toolDir, binTmp) {
    const pin = pins.pulumiKubernetes;
    const upstream = await download(ctx, pin.module, pin.version, toolDir);
    // main.go embeds generated files, so the build needs a writable copy of the module.
    const src = path.join(toolDir, "src");
    fs.rmSync(src, { recursive: true, force: true });
    fs.cpSync(upstream.dir, src, { recursive: true });
    makeWritable(src);
    fs.writeFileSync(path.join(src, "go.mod"), providerGoMod(pin, upstream.goMod));
    const cmdDir = path.join(src, "cmd", "pulumi-resource-kubernetes");
    await go(ctx, ["run", "./generate.go"], cmdDir, { VERSION: pin.pluginVersion });
    const ldflags = `-s -w -X ${pin.module}/pkg/version.Version=${pin.pluginVersion}`;
    await go(ctx, ["build", "-ldflags", ldflags, "-o", path.join(binTmp, "pulumi-resource-kubernetes"), "./cmd/pulumi-resource-kubernetes"], src);
  },
  async hami(ctx, pins, toolDir, binTmp) {
    const pin = pins.hami;
    // Built inside its own module, whose replace lines (local folders) `go install` would refuse.
    const src = await hamiSource(ctx, pin, toolDir);
    // cgo on: the scheduler imports pkg/device/nvidia, which imports go-nvml, whose types are
    // declared in its cgo files. go-nvml loads libnvidia-ml with dlopen when NVML is
    // initialised, which the scheduler never does, so no NVIDIA library is needed to link or run.
    await go(ctx, ["build", "-trimpath", "-ldflags", hamiLdflags(pin), "-o", path.join(binTmp, "hami-scheduler"), `./${pin.package}`], src, { CGO_ENABLED: "1" });
  },
};

function makeWritable(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    fs.chmodSync(p, entry.isDirectory() ? 0o755 : 0o644);
    if (entry.isDirectory()) makeWritable(p);
  }
  fs.chmodSync(dir, 0o755);
}

/** kwok ships no built-in stages: its node and pod lifecycles come from the module's stage files, concatenated. */
async function writeKwokStages(ctx: GoContext, pins: ToolPins, toolDir: string): Promise<string> {
  const pin = pins.kwok;
  const mod = await download(ctx, pin.module, pin.version, toolDir);
  const docs = pin.stages.map((rel) => {
    const file = path.join(mod.dir, rel);
    if (!fs.existsSync(file)) throw new ToolBuildError(`${pin.module}@${pin.version} has no ${rel}; update pins.json`);
    return `# ${pin.module}@${pin.version}/${rel}\n${fs.readFileSync(file, "utf8").trim()}\n`;
  });
  const out = path.join(toolDir, KWOK_STAGES_FILE);
  fs.writeFileSync(out, docs.join("---\n"));
  return out;
}

function goEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // Static binaries (no cgo), modules only, the local toolchain, no workspace file from above.
  return { ...env, CGO_ENABLED: "0", GO111MODULE: "on", GOWORK: "off", GOFLAGS: "-mod=mod" };
}

/**
 * Makes every requested tool available, building the missing ones in the order given.
 * `log` receives progress lines (the CLI prints them on stderr).
 */
export async function ensureTools(pins: ToolPins, tools: ToolName[], log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<BuildReport[]> {
  const reports: BuildReport[] = [];
  fs.mkdirSync(toolsCacheRoot(env), { recursive: true });
  for (const tool of tools) {
    const started = Date.now();
    const version = pins[tool].version;
    const toolDir = toolCacheDir(tool, pins, env);
    const ctx: GoContext = { env: goEnv(env), log: path.join(toolDir, "build.log") };
    fs.mkdirSync(toolDir, { recursive: true });
    const before = toolStatus(tool, pins, env);
    if (before.missing.length === 0) {
      if (tool === "kwok" && !fs.existsSync(path.join(toolDir, KWOK_STAGES_FILE))) await writeKwokStages(ctx, pins, toolDir);
      log(`${tool} ${version}: found (${before.binaries.map((b) => `${b.name} from ${b.source}`).join(", ")})`);
      reports.push({ tool, version, built: false, seconds: 0, binaries: before.binaries });
      continue;
    }
    log(`${tool} ${version}: building ${TOOL_BINARIES[tool].join(", ")} into ${toolDir} (log: ${ctx.log})`);
    const binTmp = path.join(toolDir, "bin.tmp");
    fs.rmSync(binTmp, { recursive: true, force: true });
    fs.mkdirSync(binTmp, { recursive: true });
    fs.writeFileSync(ctx.log, `# ${tool} ${version}, started ${new Date(started).toISOString()}\n`);
    const ticker = setInterval(() => log(`${tool}: still building (${Math.round((Date.now() - started) / 60_000)} min)`), 60_000);
    try {
      await RECIPES[tool](ctx, pins, toolDir, binTmp);
    } finally {
      clearInterval(ticker);
    }
    for (const bin of TOOL_BINARIES[tool]) {
      if (!fs.existsSync(path.join(binTmp, bin))) throw new ToolBuildError(`${tool}: the build produced no ${bin} (log: ${ctx.log})`);
    }
    fs.rmSync(path.join(toolDir, "bin"), { recursive: true, force: true });
    fs.renameSync(binTmp, path.join(toolDir, "bin"));
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const after = toolStatus(tool, pins, env);
    log(`${tool} ${version}: built in ${seconds} s`);
    reports.push({ tool, version, built: true, seconds, binaries: after.binaries });
  }
  return reports;
}

export { ToolBuildError };
