/**
 * Readers for the openb trace CSVs (data/openb): node lists
 * `sn,cpu_milli,memory_mib,gpu,model` and pod lists
 * `name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...]`.
 *
 * The files are plain comma-separated values without quoting; a quote character is rejected
 * rather than half-understood. Every error names the file, the 1-based line and column and
 * the field, so `gpk simulate` can print it as its one-line exit-2 reason.
 */
import { MILLI, makeNode, type NodeState, type PodRequest } from "../scheduling/types";

export class CsvError extends Error {
  override readonly name = "CsvError";
  constructor(file: string, line: number, column: number, message: string) {
    super(`${file}:${line}:${column}: ${message}`);
  }
}

interface Row {
  line: number;
  fields: string[];
}

interface Table {
  file: string;
  columns: Map<string, number>;
  rows: Row[];
}

function readTable(file: string, text: string, required: readonly string[]): Table {
  const lines = text.split(/\r?\n/);
  const headerLine = lines[0] ?? "";
  if (headerLine.trim() === "") throw new CsvError(file, 1, 1, "empty file: expected a header line");
  const header = headerLine.split(",").map((h) => h.trim());
  const columns = new Map(header.map((h, i) => [h, i] as const));
  for (const name of required) {
    if (!columns.has(name)) {
      throw new CsvError(file, 1, 1, `missing column "${name}" (header: ${header.join(",")})`);
    }
  }
  const rows: Row[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const quote = raw.indexOf('"');
    if (quote >= 0) throw new CsvError(file, i + 1, quote + 1, "quoted fields are not supported");
    const fields = raw.split(",");
    if (fields.length !== header.length) {
      throw new CsvError(file, i + 1, 1, `expected ${header.length} fields, found ${fields.length}`);
    }
    rows.push({ line: i + 1, fields });
  }
  return { file, columns, rows };
}

/** 1-based column (character offset) where field `index` starts on the row. */
function columnOf(row: Row, index: number): number {
  let col = 1;
  for (let i = 0; i < index; i++) col += row.fields[i]!.length + 1;
  return col;
}

function text(t: Table, row: Row, name: string, { allowEmpty = false } = {}): string {
  const index = t.columns.get(name)!;
  const value = row.fields[index]!.trim();
  if (!allowEmpty && value === "") throw new CsvError(t.file, row.line, columnOf(row, index), `column "${name}": empty value`);
  return value;
}

function integer(t: Table, row: Row, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const index = t.columns.get(name)!;
  const raw = row.fields[index]!.trim();
  if (!/^\d+$/.test(raw) || Number(raw) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "a non-negative integer" : `an integer 0..${max}`;
    throw new CsvError(t.file, row.line, columnOf(row, index), `column "${name}": expected ${range}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** Parses a node list. Every node gets rank = its row order (the simulator re-ranks them). */
export function parseNodes(file: string, content: string): NodeState[] {
  const t = readTable(file, content, ["sn", "cpu_milli", "memory_mib", "gpu", "model"]);
  const seen = new Set<string>();
  return t.rows.map((row, i) => {
    const name = text(t, row, "sn");
    if (seen.has(name)) throw new CsvError(file, row.line, 1, `column "sn": duplicate node ${JSON.stringify(name)}`);
    seen.add(name);
    const gpuCount = integer(t, row, "gpu", 64);
    const model = text(t, row, "model", { allowEmpty: gpuCount === 0 });
    return makeNode({
      name,
      cpuMilli: integer(t, row, "cpu_milli"),
      memoryMiB: integer(t, row, "memory_mib"),
      gpuCount,
      gpuModel: model,
      rank: i,
    });
  });
}

/** Parses a pod (task) list; `gpu_spec` is optional (multigpu lists lack it). */
export function parsePods(file: string, content: string): PodRequest[] {
  const t = readTable(file, content, ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"]);
  const hasSpec = t.columns.has("gpu_spec");
  return t.rows.map((row) => {
    const numGpu = integer(t, row, "num_gpu", 8);
    const gpuMilliRaw = integer(t, row, "gpu_milli", MILLI);
    const col = (name: string) => columnOf(row, t.columns.get(name)!);
    if (numGpu > 0 && gpuMilliRaw === 0) {
      throw new CsvError(file, row.line, col("gpu_milli"), `column "gpu_milli": must be 1..1000 when num_gpu is ${numGpu}`);
    }
    if (numGpu > 1 && gpuMilliRaw !== MILLI) {
      throw new CsvError(file, row.line, col("gpu_milli"), `column "gpu_milli": a pod with ${numGpu} GPUs must ask for whole GPUs (1000), got ${gpuMilliRaw}`);
    }
    const spec = hasSpec ? text(t, row, "gpu_spec", { allowEmpty: true }) : "";
    return {
      name: text(t, row, "name"),
      cpuMilli: integer(t, row, "cpu_milli"),
      memoryMiB: integer(t, row, "memory_mib"),
      numGpu,
      // A CPU-only task has no per-GPU share, whatever the column says.
      gpuMilli: numGpu === 0 ? 0 : gpuMilliRaw,
      gpuModels: numGpu === 0 ? [] : spec.split("|").filter((m) => m !== ""),
    };
  });
}

/** A task with the times the trace gives it, in seconds. */
export interface TimedPod {
  request: PodRequest;
  creationS: number;
  deletionS: number;
}

/**
 * A task list with its `creation_time` and `deletion_time` columns (seconds), for the replay
 * with departures. A deletion before the creation is refused with its line.
 */
export function parseTimedPods(file: string, content: string): TimedPod[] {
  const requests = parsePods(file, content);
  const t = readTable(file, content, ["name", "creation_time", "deletion_time"]);
  return t.rows.map((row, i) => {
    const creationS = integer(t, row, "creation_time");
    const deletionS = integer(t, row, "deletion_time");
    if (deletionS < creationS) {
      throw new CsvError(file, row.line, columnOf(row, t.columns.get("deletion_time")!), `column "deletion_time": ${deletionS} is before creation_time ${creationS}`);
    }
    return { request: requests[i]!, creationS, deletionS };
  });
}
