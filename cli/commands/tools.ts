/**
 * `gpk tools [build|status|python|system|images] [--only a,b] [--json]`: the upstream tools of the binaries
 * runtime (kube-apiserver, kube-controller-manager, kube-scheduler, the real node's kubelet,
 * kube-proxy and crictl, kine, kwok, the Pulumi CLI and its Kubernetes provider), pinned in
 * tools/pins.json and built from their Go modules into ~/.cache/gpk/tools (or
 * $GPK_TOOLS_DIR). `npm run tools` builds. `images` builds the images real nodes run.
 */
import { ExitCode, UsageError, checkFolderToWrite, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { ToolBuildError, ensureTools } from "../tools/build";
import { ALL_TOOL_NAMES, HAMI_SOURCE_ENV, OPTIONAL_TOOL_NAMES, PINS_FILE, TOOL_NAMES, readPins, type ToolName } from "../tools/recipes";
import { DEBIAN_PACKAGES, DebianToolsError, ensureDebianPackages } from "../tools/debian";
import { PYTHON_TOOLSETS, PythonToolsError, ensurePythonTools } from "../tools/python";
import { allToolStatus, toolsCacheRoot } from "../tools/resolve";
import { buildPauseImage, buildRuntimeImage, imagesCacheRoot, kitVersion } from "../images/kit-images";
import { ImageBuildError } from "../images/oci";

const usage = `Usage: gpk tools [build|status|python|system|images] [--only <tool,…>] [--json]

build   (default) build every pinned tool that is not found yet; idempotent, and a
        tool that is found anywhere below is used as it is
status  say where each binary is found, building nothing (exit 1 if any is missing)
python  create the Python virtualenvs, exact pins, in the same cache; idempotent:
        ${PYTHON_TOOLSETS.map((t) => `${t.name}: ${t.requirements}`).join("\n        ")}
        (the tests' tools: moto's S3 server, Ray, transformers; the benchmark clients
        guidellm and inference-perf)
system  install the Debian packages the e2e tests start (Redis, Prometheus) and a real
        node runs (containerd, runc, the CNI plugins, socat, gcc for the pause image) with
        apt-get where their command is missing (needs root); list in ${DEBIAN_PACKAGES};
        idempotent

Tools (${PINS_FILE}): ${TOOL_NAMES.join(", ")}
Built only when named with --only: ${OPTIONAL_TOOL_NAMES.join(", ")} (hami: HAMi's scheduler
extender, a peer for bench:scheduler; it links with cgo, so it needs a C compiler, and where
the Go module proxy refuses its module, \$${HAMI_SOURCE_ENV} must name a git clone of
github.com/Project-HAMi/HAMi that holds the pinned commit)
Binaries are looked up in $GPK_TOOLS_DIR, $KUBEBUILDER_ASSETS (kube-apiserver),
the cache ($GPK_TOOLS_DIR or ~/.cache/gpk/tools, one <tool>-<pin hash> folder each),
then PATH. Builds need Go 1.26 and the Go module proxy; a cold build of all of them
takes about 35 minutes on 2 cores (docs/real-engines.md has the measured times).

  --only <list>   comma-separated subset of the tools
  --json          build:  ${helpShape("tools", "build", 26)}
                  status: ${helpShape("tools", "status", 26)}
                  python: ${helpShape("tools", "python", 26)}
                  system: ${helpShape("tools", "system", 26)}
                  images: ${helpShape("tools", "images", 26)}`;

function selected(raw: string | undefined): ToolName[] {
  if (raw === undefined) return TOOL_NAMES;
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(ALL_TOOL_NAMES as string[]).includes(n)) throw new UsageError(`--only: unknown tool ${JSON.stringify(n)}; tools: ${ALL_TOOL_NAMES.join(", ")}`);
  }
  if (names.length === 0) throw new UsageError("--only: expected at least one tool name");
  return names as ToolName[];
}

const toolLog = (line: string) => progress(`[tools] ${line}`);
/** A line of the result, for people: stdout, where `gpk tools status | grep missing` finds it (progress stays on stderr). */
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs one setup action: exit 0, or 1 with the one-line reason of a build, Python or apt failure. */
async function runSetup(work: () => void | Promise<void>): Promise<ExitCode> {
  try {
    await work();
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof ToolBuildError || err instanceof PythonToolsError || err instanceof DebianToolsError || err instanceof ImageBuildError) {
      process.stderr.write(`gpk tools: ${err.message}\n`);
      return ExitCode.Finding;
    }
    throw err;
  }
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { only: { type: "string" }, json: { type: "boolean", default: false } });
    const toolsDir = process.env.GPK_TOOLS_DIR;
    if (toolsDir) checkFolderToWrite("GPK_TOOLS_DIR", toolsDir);
    const action = positionals[0] ?? "build";
    if (positionals.length > 1 || !["build", "status", "python", "system", "images"].includes(action)) throw new UsageError("expected `build`, `status`, `python`, `system` or `images`");
    if (action === "images") {
      if (values.only !== undefined) throw new UsageError("--only goes with build and status");
      return runSetup(() => {
        const images = [buildPauseImage(readPins().kubernetes), buildRuntimeImage(kitVersion())];
        if (values.json) printJson(images.map((i) => ({ name: i.name, ref: i.ref, archive: i.archive })));
        else for (const i of images) say(`${i.ref}: ${i.archive}`);
      });
    }
    if (action === "system" || action === "python") {
      if (values.only !== undefined) throw new UsageError("--only goes with build and status");
      return runSetup(() => {
        if (action === "system") {
          const reports = ensureDebianPackages(toolLog);
          if (values.json) printJson(reports);
          else for (const r of reports) say(`${r.package}: ${r.path}${r.installed ? " (installed now)" : ""}`);
          return;
        }
        const made = PYTHON_TOOLSETS.map((toolset) => {
          const tools = ensurePythonTools(toolLog, process.env, toolset);
          if (!values.json) say(`python ${toolset.name}: ${tools.dir}${tools.created ? ` (created in ${tools.seconds} s)` : " (already complete)"}`);
          return { name: toolset.name, dir: tools.dir, created: tools.created, seconds: tools.seconds, requirements: toolset.requirements };
        });
        if (values.json) printJson(made);
      });
    }
    const tools = selected(values.only);
    const pins = readPins();
    if (action === "status") {
      const statuses = allToolStatus(pins, process.env, tools);
      if (values.json) printJson(statuses);
      else for (const s of statuses) say(`${s.tool} ${s.version}: ${s.missing.length ? `missing ${s.missing.join(", ")}` : s.binaries.map((b) => `${b.name} (${b.source}) ${b.path}`).join("; ")}`);
      return statuses.some((s) => s.missing.length > 0) ? ExitCode.Finding : ExitCode.Ok;
    }
    progress(`tools cache: ${toolsCacheRoot()}`);
    return runSetup(async () => {
      const reports = await ensureTools(pins, tools, toolLog);
      if (values.json) printJson(reports);
    });
  },
};
