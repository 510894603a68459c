/**
 * `gpk diagnose [--kubeconfig <file>] [--telemetry-url <url>]... [--extender-url <url>]
 * [--hot-temperature 83] [--json]`: reads the live cluster once and reports, per pool, where
 * its GPUs stand, why each pending GPU pod waits, and which GPUs run hot
 * (cli/diagnose/diagnosis.ts holds the rules).
 */
import { ExitCode, UsageError, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { diagnose, type Diagnosis } from "../diagnose/diagnosis";
import {
  checkUrls, connect, describeError, fetchText, hotTemperatureFlag, kubeconfigPath, listNodesAndPods, scrapeTelemetry, type Probe,
} from "../diagnose/live";
import type { KubeClient } from "../../runtime/scheduler-extender/kube";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";

const usage = `Usage: gpk diagnose [--kubeconfig <file>] [--telemetry-url <url>]... [--extender-url <url>]
                    [--hot-temperature 83] [--json]

Reads the cluster's nodes and pods once and reports:
  - per pool (label gpk.dev/pool): GPUs allocated and idle, and of the idle those
    fragmented for the observed workload (FGD's measure, as the extender scores) and
    those stranded by the CPU left on their nodes;
  - each pending GPU pod and why it waits: insufficient-gpus (not enough free anywhere
    it may run), fragmented (enough free in total, not on one node), taints-or-affinity
    (only nodes it may not use have room), extender-down (room exists, the pod uses
    gpk-scheduler and --extender-url does not answer), schedulable (room exists);
  - GPUs at or above --hot-temperature, power-capped or in thermal slowdown, from each
    --telemetry-url (a DCGM exporter's /metrics) that answers.
A pod over its namespace's GPU quota is refused at creation, so no pending pod exists for it.

  --kubeconfig <file>      default: $KUBECONFIG, then ~/.kube/config
  --telemetry-url <url>    a GPU exporter's metrics URL; repeatable
  --extender-url <url>     the scheduler extender's /healthz, to tell extender-down apart
  --hot-temperature <C>    default 83, the extender's
  --json                   print ${helpShape("diagnose", "diagnose", 27)}

Exit: 0 reported (findings are data, not failures), 2 bad flags or a cluster it cannot reach.`;

function formatText(d: Diagnosis, telemetry: Probe[], extender: Probe | null): string {
  const lines: string[] = ["Pools (GPUs)", "  pool              nodes   gpus  allocated   idle  fragmented  cpu-stranded"];
  for (const p of d.pools) {
    lines.push(`  ${p.pool.padEnd(16)} ${String(p.nodes).padStart(6)} ${String(p.gpus).padStart(6)} ${String(p.allocated).padStart(10)} ${String(p.idle).padStart(6)} ${String(p.fragmented).padStart(11)} ${String(p.cpuStranded).padStart(13)}`);
  }
  lines.push("", d.pending.length ? `Pending GPU pods (${d.pending.length})` : "Pending GPU pods: none");
  for (const p of d.pending) lines.push(`  ${p.namespace}/${p.name} (${p.gpus} GPU): ${p.reason}: ${p.detail}`);
  lines.push("", d.hotGpus.length ? `Hot or throttled GPUs (${d.hotGpus.length})` : "Hot or throttled GPUs: none");
  for (const g of d.hotGpus) {
    const flags = [g.powerCapped ? "power-capped" : "", g.thermalSlowdown ? "thermal slowdown" : ""].filter(Boolean).join(", ");
    lines.push(`  ${g.node} GPU ${g.gpu} ${g.uuid}: ${g.temperatureC ?? "?"} °C${flags ? `, ${flags}` : ""}`);
  }
  for (const t of telemetry.filter((p) => !p.ok)) lines.push(`  (telemetry ${t.url} did not answer: ${t.error})`);
  if (extender && !extender.ok) lines.push("", `Scheduler extender ${extender.url} did not answer: ${extender.error}`);
  return lines.join("\n");
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      kubeconfig: { type: "string" },
      "telemetry-url": { type: "string", multiple: true },
      "extender-url": { type: "string" },
      "hot-temperature": { type: "string" },
      json: { type: "boolean", default: false },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const hotTemperatureC = hotTemperatureFlag(values["hot-temperature"]);
    const urls = (values["telemetry-url"] as string[] | undefined) ?? [];
    checkUrls("--telemetry-url", urls);
    checkUrls("--extender-url", values["extender-url"] ? [values["extender-url"]] : []);
    const kubeconfig = kubeconfigPath(values.kubeconfig);

    let nodes: K8sNode[];
    let pods: K8sPod[];
    let client: KubeClient | undefined;
    try {
      client = await connect(kubeconfig);
      progress(`Reading nodes and pods through ${kubeconfig}...`);
      ({ nodes, pods } = await listNodesAndPods(client));
    } catch (err) {
      process.stderr.write(`gpk diagnose: cannot read the cluster through ${kubeconfig}: ${describeError(err)}\n`);
      return ExitCode.Usage;
    } finally {
      client?.close(); // its keep-alive sockets would hold the process open
    }

    const { samples, probes: telemetry } = await scrapeTelemetry(urls);
    let extender: Probe | null = null;
    if (values["extender-url"]) {
      const url = values["extender-url"];
      try {
        await fetchText(url);
        extender = { url, ok: true };
      } catch (err) {
        extender = { url, ok: false, error: describeError(err) };
      }
    }

    const found = diagnose({ nodes, pods, telemetry: samples, hotTemperatureC, extenderReachable: extender?.ok });
    if (values.json) printJson({ ...found, telemetry, extender });
    else process.stdout.write(`${formatText(found, telemetry, extender)}\n`);
    return ExitCode.Ok;
  },
};
