/**
 * Every `--json` document `gpk` prints, declared once (notation: json-shape.ts). The help
 * texts print these declarations, the README quotes them, and test/cli/json-shapes.test.ts
 * (with the e2e files for the commands that need a cluster) checks real output against them.
 *
 * Keyed by command, then by the action or mode that prints it.
 */
import { jsonShape, wrapShape, type JsonShape } from "./json-shape";

const VIOLATION = '{"pack","policy","enforcementLevel","urn","message"}';
const PROBE = '{"url","ok","error"?}';
const RESOURCE_CHANGES = "{<resource changes: create, update, same, delete, …: count>}";
const RAY_START = '{"args","env","shell"}';
const DISTRIBUTION = '{"mean","p50","p99"}';
const FRAGMENTED = '{"kind":"fragmented","namespace","name","gpus"}';
const HOT_NODE = '{"kind":"hot-node","node","gpus"}';
const TRIGGER = `${FRAGMENTED}|${HOT_NODE}`;
const PLAN = `{"trigger":${TRIGGER},"node","hold","moves":[{"namespace","name","from","to","gpus"}],"staying":[{"namespace","name","reason"}]}`;
const DEFRAG_PLAN = `"budget","plans":[${PLAN}],"unplanned":[{"trigger":${TRIGGER},"reason"}],"telemetry":[${PROBE}]`;
const CHECKPOINT = '{"prefix","state":"complete"|"torn"|"missing-manifest","lastModified","files","bytes","problems":[lines]}';
const LOCATED = '[{"name","path","source"}]';
const CANDIDATE = '{"gpu","instanceType","tensorParallelSize","maxNumSeqs","maxNumBatchedTokens","maxRatePerReplica","replicas","gpus","nodes","dollarsPerHour","dollarsPerMillionOutputTokens","meetsSlo","ttftP99MsAtPeak","limit","reason"?}';
const CONFIG_CHANGE = '{"entry","set":{"tensorParallelSize","maxNumSeqs","maxNumBatchedTokens","minReplicas","maxReplicas"},"pool":{"name","instanceType","change"}}';

export const JSON_SHAPES = {
  version: {
    version: jsonShape('{"version","node"}'),
  },
  preview: {
    preview: jsonShape(`{"stack","resources":[{"urn","type","name","parent","inputs"}],"schemaErrors":[{"urn","path","message"}],"unvalidatedKinds":[kinds],"violations":[${VIOLATION}]}`),
  },
  check: {
    check: jsonShape(`{"stack","violations":[${VIOLATION}]}`),
  },
  local: {
    up: jsonShape(
      `{"stack","runtime":"binaries","kubeconfig","pulumi":{"bin","home","backend","workDir","env"},"processes":[{"name","pid","port"}],"nodes":[{"name","runtime":"kubelet"|"kwok"}],"images":[{"name","ref"}],"update":${RESOURCE_CHANGES}}`,
    ),
    "up (kind)": jsonShape(`{"stack","runtime":"kind","cluster","kindConfig","kubeconfig":null,"update":${RESOURCE_CHANGES},"outputs"}`),
    preview: jsonShape(`{"stack","runtime":"binaries","changeSummary":${RESOURCE_CHANGES}}`),
    destroy: jsonShape(`{"stack","runtime":"binaries","update":${RESOURCE_CHANGES}}`),
    down: jsonShape('{"stack","runtime":"binaries","stopped":[names],"portsLeft":[ports],"leftovers":[what]}'),
    "down (kind)": jsonShape('{"stack","runtime":"kind","cluster"}'),
  },
  tools: {
    build: jsonShape(`[{"tool","version","built","seconds","binaries":${LOCATED}}]`),
    status: jsonShape(`[{"tool","version","binaries":${LOCATED},"missing":[binaries]}]`),
    python: jsonShape('[{"name","dir","created","seconds","requirements"}]'),
    system: jsonShape('[{"package","command","path","installed"}]'),
    images: jsonShape('[{"name","ref","archive"}]'),
  },
  simulate: {
    artifact: jsonShape('{"policy","seed","percentageOfNodesToScore","nodes","totalGpus","pods","failedPods","allocation":{<arrived %: allocated %>},"fragmentationRate":{<arrived %: fragmented %>},"wallSeconds"}'),
    replay: jsonShape(
      '{"mode":"replay","policy","defrag","timeScale","load"?,"seed","allocationTimeWeighted","queueDelaySeconds":{<class: fractional, 1, 2, 4 or 8 GPUs>:{"p50","p99","count"}},"waitingAtEnd","migrations","wallSeconds"}',
    ),
  },
  serve: {
    serve: jsonShape('{"url","openaiBaseUrl","model","servedModelName","gpu","tensorParallelSize","maxNumSeqs","maxWaiting","kvCacheBlocks","blockSize"}'),
    replay: jsonShape(
      `{"requests","completed","failed","durationS","requestThroughput","inputTokensPerS","outputTokensPerS","ttftMs":${DISTRIBUTION},"tpotMs":${DISTRIBUTION},"itlMs":${DISTRIBUTION},"e2elMs":${DISTRIBUTION},"preemptions"}`,
    ),
    "write-tokenizer": jsonShape('{"dir","files":[names],"modelMaxLength"}'),
  },
  telemetry: {
    telemetry: jsonShape('{"url","source","hostname"}'),
  },
  checkpoints: {
    list: jsonShape(`[${CHECKPOINT}]`),
    verify: jsonShape(`{"checkpoint":${CHECKPOINT}}|{"checkpoint":null,"problems":[lines]}`),
    restore: jsonShape('{"key","fromVersionId","fromLastModified","newVersionId"?}'),
  },
  diagnose: {
    diagnose: jsonShape(
      `{"pools":[{"pool","nodes","gpus","allocated","idle","fragmented","cpuStranded"}],"pending":[{"namespace","name","gpus","reason","detail"}],"hotGpus":[{"node","gpu","uuid","temperatureC"?,"powerCapped","thermalSlowdown"}],"telemetry":[${PROBE}],"extender":${PROBE}|null}`,
    ),
  },
  defrag: {
    plan: jsonShape(`{${DEFRAG_PLAN}}`),
    apply: jsonShape(`{${DEFRAG_PLAN},"applied":[{"trigger":${TRIGGER},"node","moved":[{"namespace","name","from","replacement","to"}],"bound","error"}],"ok"}`),
  },
  ray: {
    "start-args": jsonShape(`{"stack","rayVersion"?,"clusterName","namespace","head":${RAY_START},"workerGroups":[{"groupName","minReplicas","maxReplicas","args","env","shell"}]}`),
  },
  plan: {
    serving: jsonShape(`{"stack"?,"entry"?,"candidates":[${CANDIDATE}],"best":${CANDIDATE}|null,"pareto":[${CANDIDATE}],"backend":"threads"|"ray","wallSeconds","configChange"?:${CONFIG_CHANGE}|null}`),
  },
  sim: {
    "nvidia-smi": jsonShape('{"hostname","product","timeS","gpus":[{<one GPU\'s readings: index, uuid, gpuTempC, powerW, smClockMHz, clockEventReasons, …>}]}'),
  },
} as const satisfies Record<string, Record<string, JsonShape>>;

export type ShapedCommand = keyof typeof JSON_SHAPES;

/** The declaration of one document, as the help text shows it. */
export function shapeText<C extends ShapedCommand>(command: C, variant: keyof (typeof JSON_SHAPES)[C]): string {
  return (JSON_SHAPES[command][variant] as JsonShape).text;
}

/**
 * The declaration for a help text: wrapped at commas to lines of about `width` characters,
 * continued `indent` spaces in (where the flag's description column starts).
 */
export function helpShape<C extends ShapedCommand>(command: C, variant: keyof (typeof JSON_SHAPES)[C], indent: number, width = 100 - indent): string {
  return wrapShape(shapeText(command, variant), width, " ".repeat(indent));
}
