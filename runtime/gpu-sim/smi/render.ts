/**
 * nvidia-smi's text outputs: the default summary table, `-L`, `--query-gpu` CSV and the
 * `-q -x` document, column for column as the captured H100 prints them.
 */
import { fieldHeader, fieldValue, type QueryContext, type QueryField } from "./fields";
import type { SmiContext, SmiGpu } from "./view";
import { asctime } from "./view";
import { gpuXml } from "./xml-gpu";

const RULE = "+-----------------------------------------------------------------------------------------+";
const GPU_RULE = "+-----------------------------------------+------------------------+----------------------+";

function cells(a: string, b: string, c: string): string {
  return `|${a}|${b}|${c}|`;
}

/** The name column holds 29 characters; longer names are cut with "..." as nvidia-smi does. */
function nameCell(name: string): string {
  return name.length > 29 ? `${name.slice(0, 26)}...` : name.padEnd(29);
}

function gpuRows(g: SmiGpu): string[] {
  const power = `${Math.round(g.powerW)}W`.padStart(16);
  const cap = `${Math.round(g.powerLimitW)}W`.padStart(5);
  const temp = `${g.gpuTempC}C`.padStart(6);
  const pstate = (g.shutdown ? "P8" : "P0").padStart(6);
  return [
    cells(`${String(g.index).padStart(4)}  ${nameCell(g.name)}  On  `, `   ${g.pciBusId} Off `, `${"0".padStart(21)} `),
    cells(` N/A${temp}${pstate}${power} / ${cap} `, `${`${g.fbUsedMiB}MiB`.padStart(11)} / ${`${g.fbTotalMiB}MiB`.padStart(9)} `,
      `${`${g.utilizationGpu}%`.padStart(8)}${"Default".padStart(13)} `),
    cells(" ".repeat(41), " ".repeat(24), `${"Disabled".padStart(21)} `),
    GPU_RULE,
  ];
}

export function renderTable(gpus: SmiGpu[], ctx: SmiContext): string {
  const banner = `| NVIDIA-SMI ${ctx.driverVersion}             Driver Version: ${ctx.driverVersion}     CUDA Version: ${ctx.cudaVersion}`;
  const lines = [
    `${asctime(ctx.now)}       `,
    RULE,
    `${banner.padEnd(RULE.length - 1)}|`,
    GPU_RULE,
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
    "|                                         |                        |               MIG M. |",
    "|=========================================+========================+======================|",
    ...gpus.flatMap(gpuRows),
    "",
    RULE,
    "| Processes:                                                                              |",
    "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |",
    "|        ID   ID                                                               Usage      |",
    "|=========================================================================================|",
    "|  No running processes found                                                             |",
    RULE,
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * `nvidia-smi -L`: one line per GPU, then its MIG devices indented, in the R470+ form of
 * NVIDIA/cloud-native-docs gpu-operator/manifests/output/mig-nvidia-smi.txt (commit 7554fd80):
 * `  MIG <profile padded to 11> Device <index right-aligned to 2>: (UUID: MIG-...)`.
 */
export function renderList(gpus: SmiGpu[]): string {
  return gpus
    .map((g) => [`GPU ${g.index}: ${g.name} (UUID: ${g.uuid})\n`, ...g.migDevices.map((m) => `  MIG ${m.profile.padEnd(11)} Device ${String(m.index).padStart(2)}: (UUID: ${m.uuid})\n`)].join(""))
    .join("");
}

export interface CsvFormat {
  header: boolean;
  units: boolean;
}

export function renderQuery(gpus: SmiGpu[], fields: [string, QueryField][], format: CsvFormat, ctx: SmiContext): string {
  const qctx: QueryContext = { ...ctx, count: gpus.length };
  const rows = gpus.map((g) => fields.map(([, f]) => fieldValue(f, g, qctx, format.units)).join(", "));
  const header = format.header ? [fields.map(([name, f]) => fieldHeader(name, f)).join(", ")] : [];
  return [...header, ...rows].map((l) => `${l}\n`).join("");
}

export function renderXml(gpus: SmiGpu[], ctx: SmiContext): string {
  return [
    '<?xml version="1.0" ?>',
    '<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v13.dtd">',
    "<nvidia_smi_log>",
    `\t<timestamp>${asctime(ctx.now)}</timestamp>`,
    `\t<driver_version>${ctx.driverVersion}</driver_version>`,
    `\t<cuda_version>${ctx.cudaVersion}</cuda_version>`,
    `\t<attached_gpus>${gpus.length}</attached_gpus>`,
    ...gpus.map((g) => gpuXml(g, g.profile)),
    "",
    "</nvidia_smi_log>",
    "",
  ].join("\n");
}
