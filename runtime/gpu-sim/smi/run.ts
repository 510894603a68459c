/**
 * The simulated `nvidia-smi` command line: parses nvidia-smi's own flags and answers from a
 * simulated node. Pure (node, environment and time are passed in), so tests and the CLI share it.
 *
 * Supported: (no flags) summary table, -L/--list-gpus, --query-gpu=<fields> --format=csv[,noheader][,nounits],
 * --query-compute-apps=<fields> (no processes run on simulated GPUs), -q -x / --query --xml-format,
 * -i/--id=<index|uuid|pci bus id>[,...], -h/--help. Errors use nvidia-smi's wording and exit codes.
 */
import type { SimNode } from "../node";
import { lookupField, type QueryField } from "./fields";
import { renderList, renderQuery, renderTable, renderXml, type CsvFormat } from "./render";
import { CAPTURED_DRIVER, visibleGpus, type SmiContext, type SmiGpu } from "./view";

export interface SmiResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface SmiEnvironment {
  node: SimNode;
  /** NVIDIA_VISIBLE_DEVICES of the process. */
  visibleDevices?: string;
  now: Date;
}

/** nvidia-smi's exit codes (nvidia-smi(1), RETURN VALUE). */
export const SmiExit = { Ok: 0, InvalidArgument: 2, NotFound: 6 } as const;

const INVALID = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n";
const COMPUTE_APP_UNITS: Record<string, string> = { used_gpu_memory: "MiB", used_memory: "MiB" };
const COMPUTE_APP_FIELDS = ["timestamp", "gpu_name", "gpu_bus_id", "gpu_serial", "gpu_uuid", "pid", "process_name", "name", "used_gpu_memory", "used_memory"];

const USAGE = `NVIDIA System Management Interface -- simulated by gpu-platform-kit (runtime/gpu-sim)

    -h,   --help                Print usage information and exit.
    -L,   --list-gpus           Display a list of GPUs connected to the system.
    -q,   --query               Display GPU info (with -x: as XML).
    -x,   --xml-format          Produce XML output.
    -i,   --id=                 Target a specific GPU (index, UUID or PCI bus id; comma list).
    --query-gpu=                Information about GPU (see nvidia-smi --help-query-gpu).
    --query-compute-apps=       Information about active compute processes.
    --format=                   csv, with optional noheader and nounits.
`;

interface Parsed {
  list: boolean;
  query: boolean;
  xml: boolean;
  help: boolean;
  ids?: string;
  queryGpu?: string;
  queryApps?: string;
  format?: string;
}

function parse(argv: string[]): Parsed | undefined {
  const p: Parsed = { list: false, query: false, xml: false, help: false };
  const valued: Record<string, "ids" | "queryGpu" | "queryApps" | "format"> = {
    "-i": "ids", "--id": "ids", "--query-gpu": "queryGpu", "--query-compute-apps": "queryApps", "--format": "format",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const [flag, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const key = valued[flag];
    if (key) {
      const value = inline ?? argv[++i];
      if (value === undefined) return undefined;
      p[key] = value;
      continue;
    }
    if (inline !== undefined) return undefined;
    if (flag === "-L" || flag === "--list-gpus") p.list = true;
    else if (flag === "-q" || flag === "--query") p.query = true;
    else if (flag === "-x" || flag === "--xml-format") p.xml = true;
    else if (flag === "-qx" || flag === "-xq") p.query = p.xml = true;
    else if (flag === "-h" || flag === "--help") p.help = true;
    else return undefined;
  }
  return p;
}

function parseFormat(raw: string): CsvFormat | undefined {
  const parts = raw.split(",").map((s) => s.trim());
  if (!parts.includes("csv")) return undefined;
  if (parts.some((s) => !["csv", "noheader", "nounits"].includes(s))) return undefined;
  return { header: !parts.includes("noheader"), units: !parts.includes("nounits") };
}

function selectIds(gpus: SmiGpu[], ids: string): SmiGpu[] | undefined {
  const picked: SmiGpu[] = [];
  for (const raw of ids.split(",")) {
    const id = raw.trim();
    const g = gpus.find((x) => String(x.index) === id || x.uuid === id || x.pciBusId.toLowerCase() === id.toLowerCase()
      || x.pciBusId.slice(4).toLowerCase() === id.toLowerCase());
    if (!g) return undefined;
    picked.push(g);
  }
  return picked;
}

export function runNvidiaSmi(argv: string[], env: SmiEnvironment): SmiResult {
  const ok = (stdout: string): SmiResult => ({ stdout, stderr: "", exitCode: SmiExit.Ok });
  const invalid: SmiResult = { stdout: INVALID, stderr: "", exitCode: SmiExit.InvalidArgument };
  const p = parse(argv);
  if (!p) return invalid;
  if (p.help) return ok(USAGE);
  const ctx: SmiContext = { now: env.now, ...CAPTURED_DRIVER };
  let gpus = visibleGpus(env.node, env.visibleDevices);
  if (gpus.length === 0) return { stdout: "No devices were found\n", stderr: "", exitCode: SmiExit.NotFound };
  if (p.ids !== undefined) {
    const picked = selectIds(gpus, p.ids);
    if (!picked) return { stdout: "No devices were found\n", stderr: "", exitCode: SmiExit.NotFound };
    gpus = picked;
  }
  const modes = [p.list, p.query, p.queryGpu !== undefined, p.queryApps !== undefined].filter(Boolean).length;
  if (modes > 1 || (p.xml && !p.query)) return invalid;

  if (p.queryGpu !== undefined || p.queryApps !== undefined) {
    const format = p.format === undefined ? undefined : parseFormat(p.format);
    if (!format) return { stdout: `"--format" must be specified as csv[,noheader][,nounits].\n${INVALID}`, stderr: "", exitCode: SmiExit.InvalidArgument };
    const names = (p.queryGpu ?? p.queryApps!).split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (p.queryApps !== undefined) {
      const bad = names.find((n) => !COMPUTE_APP_FIELDS.includes(n));
      if (bad !== undefined) return { stdout: `Field "${bad}" is not a valid field to query.\n\n`, stderr: "", exitCode: SmiExit.InvalidArgument };
      // Simulated GPUs run no processes, so only the header can print.
      const header = names.map((n) => (COMPUTE_APP_UNITS[n] ? `${n} [${COMPUTE_APP_UNITS[n]}]` : n)).join(", ");
      return ok(format.header ? `${header}\n` : "");
    }
    const fields: [string, QueryField][] = [];
    for (const name of names) {
      const f = lookupField(name);
      if (!f) return { stdout: `Field "${name}" is not a valid field to query.\n\n`, stderr: "", exitCode: SmiExit.InvalidArgument };
      fields.push([name, f]);
    }
    return ok(renderQuery(gpus, fields, format, ctx));
  }
  if (p.format !== undefined) return invalid;
  if (p.list) return ok(renderList(gpus));
  if (p.query) {
    if (!p.xml) return { stdout: "", stderr: "gpk sim: plain-text -q is not simulated; use -q -x (XML) or --query-gpu\n", exitCode: SmiExit.InvalidArgument };
    return ok(renderXml(gpus, ctx));
  }
  return ok(renderTable(gpus, ctx));
}
