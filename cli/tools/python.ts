/**
 * The Python tools the tests run, each set in its own virtualenv of the tools cache:
 * - the test tools (tools/python-requirements.txt): moto's S3 server, the S3-protocol peer of
 *   `gpk checkpoints`; Ray; transformers, to load the exported tokenizer;
 * - the benchmark clients (tools/python-bench-requirements.txt): guidellm and inference-perf,
 *   run against `gpk serve`. They pin packages the test tools pin otherwise (click,
 *   transformers), hence a set of their own.
 * A requirements file pins every package exactly; they are installed with `--no-deps`, so the
 * set is the file, nothing resolved on the day. The folder is keyed by the file and the
 * interpreter's version, created once and reused (a `.complete` marker is written last; a
 * half-made folder is made again).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { KIT_TOOLS_DIR, toolsCacheRoot } from "./resolve";

export const PYTHON_REQUIREMENTS = path.join(KIT_TOOLS_DIR, "python-requirements.txt");
export const BENCH_CLIENT_REQUIREMENTS = path.join(KIT_TOOLS_DIR, "python-bench-requirements.txt");

/** One virtualenv: its folder's name prefix, its requirements, and how pip installs them. */
export interface PythonToolset {
  name: string;
  requirements: string;
  /**
   * pip's `--ignore-requires-python`: install a package whose metadata asks for a newer Python
   * than the one here, because the tests show it runs (inference-perf declares ≥ 3.12).
   */
  ignoreRequiresPython?: boolean;
}

export const TEST_TOOLS: PythonToolset = { name: "python", requirements: PYTHON_REQUIREMENTS };
export const BENCH_CLIENTS: PythonToolset = { name: "bench-clients", requirements: BENCH_CLIENT_REQUIREMENTS, ignoreRequiresPython: true };
export const PYTHON_TOOLSETS: readonly PythonToolset[] = [TEST_TOOLS, BENCH_CLIENTS];
const COMPLETE = ".complete";
/** How long a process waits for another to finish creating the environment. */
const LOCK_WAIT_MS = 10 * 60_000;

export class PythonToolsError extends Error {
  override readonly name = "PythonToolsError";
}

export interface PythonTools {
  dir: string;
  /** Path of an executable the packages installed, e.g. `moto_server`. */
  bin(name: string): string;
  /** Whether this call created the environment. */
  created: boolean;
  seconds: number;
}

function python(env: NodeJS.ProcessEnv): string {
  return env.GPK_PYTHON || "python3";
}

function run(file: string, args: string[], what: string): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; code?: string; message: string };
    const detail = (e.stderr ?? "").trim().split("\n").slice(-3).join(" | ") || e.code || e.message;
    throw new PythonToolsError(`${what} failed: ${detail}`);
  }
}

/** The environment's folder: `<set name>-<hash of the requirements and the interpreter version>`. */
export function pythonToolsDir(env: NodeJS.ProcessEnv = process.env, toolset: PythonToolset = TEST_TOOLS): string {
  const version = run(python(env), ["-c", "import sys; print(sys.version.split()[0])"], `${python(env)} --version`).trim();
  const hash = createHash("sha256").update(fs.readFileSync(toolset.requirements)).update(`\npython ${version}\n`).digest("hex").slice(0, 12);
  return path.join(toolsCacheRoot(env), `${toolset.name}-${hash}`);
}

/** Creates the toolset's environment unless it is complete already; idempotent. */
export function ensurePythonTools(log: (line: string) => void = () => {}, env: NodeJS.ProcessEnv = process.env, toolset: PythonToolset = TEST_TOOLS): PythonTools {
  const started = performance.now();
  const dir = pythonToolsDir(env, toolset);
  const tools = (created: boolean): PythonTools => ({
    dir,
    created,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    bin: (name) => path.join(dir, "bin", name),
  });
  if (fs.existsSync(path.join(dir, COMPLETE))) return tools(false);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  // Test files run in parallel processes: one creates the environment, the others wait for it.
  const lock = `${dir}.lock`;
  const waitUntil = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (fs.existsSync(path.join(dir, COMPLETE))) return tools(false);
      const stat = fs.statSync(lock, { throwIfNoEntry: false });
      const age = stat ? Date.now() - stat.mtimeMs : 0;
      if (age > LOCK_WAIT_MS) fs.rmSync(lock, { recursive: true, force: true }); // its creator died
      else if (Date.now() > waitUntil) throw new PythonToolsError(`${dir}: another process has been creating it for over ${LOCK_WAIT_MS / 60_000} minutes (${lock})`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    if (fs.existsSync(path.join(dir, COMPLETE))) return tools(false);
    fs.rmSync(dir, { recursive: true, force: true });
    log(`creating ${dir} from ${toolset.requirements}`);
    run(python(env), ["-m", "venv", dir], `${python(env)} -m venv`);
    const pipArgs = ["install", "--quiet", "--disable-pip-version-check", "--no-deps", ...(toolset.ignoreRequiresPython ? ["--ignore-requires-python"] : []), "-r", toolset.requirements];
    run(path.join(dir, "bin", "pip"), pipArgs, "pip install");
    fs.writeFileSync(path.join(dir, COMPLETE), `${new Date().toISOString()}\n`);
    log(`python tools ready in ${dir}`);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  return tools(true);
}
