/**
 * `gpk defrag [--kubeconfig <file>] [--plan | --apply] [--budget 4] [--pool <name>] [--telemetry-url <url>]...
 * [--hot-temperature 83] [--timeout 300] [--json]`: plans GPU migrations on a live cluster
 * (cli/defrag/plan.ts, over runtime/scheduling/defrag.ts) and, with --apply, runs them.
 *
 * Running a plan, step by step and stopping at the first failure:
 * 1. The plan's node is held (annotation gpk.dev/defrag-hold): reserved for the pending pod, or
 *    draining when hot. The extender then keeps every other pod off it, so a moved pod cannot
 *    land back.
 * 2. Each pod is evicted through the Eviction API, so the API server enforces
 *    PodDisruptionBudgets (a 429 stops the run), and the run waits until the pod is gone and
 *    its controller's replacement is bound by gpk-scheduler.
 * 3. For a pending pod, the run waits until it is bound.
 * 4. The hold is removed, whatever happened.
 */
import { KIT_ANNOTATIONS, KIT_LABELS } from "../../gpu";
import { KubeApiError, type KubeClient } from "../../runtime/scheduler-extender/kube";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";
import { ExitCode, UsageError, numberFlag, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { controllerOf, planDefrag, type DefragPlan, type DefragTrigger, type K8sPodDisruptionBudget, type PlannedStep } from "../defrag/plan";
import { checkUrls, connect, describeError, hotTemperatureFlag, kubeconfigPath, listNodesAndPods, scrapeTelemetry, type Probe } from "../diagnose/live";

const usage = `Usage: gpk defrag [--kubeconfig <file>] [--plan | --apply] [--budget 4] [--pool <name>]
                  [--telemetry-url <url>]... [--hot-temperature 83] [--timeout 300] [--json]

Plans GPU migrations on a live cluster, with the migration planner gpk simulate --mode replay
runs and the extender's placement policy:
  - for each pending GPU pod gpk diagnose calls fragmented (enough whole GPUs free, not on one
    node it may use), oldest first: the fewest pods to move so that it fits one node;
  - for each node with a GPU at or above --hot-temperature, power-capped or in thermal
    slowdown (from each --telemetry-url, a DCGM exporter): its pods, moved elsewhere.
A pod moves only if a controller recreates it (not a DaemonSet's), gpk-scheduler places it,
it is not annotated gpk.dev/no-migrate: "true", and no PodDisruptionBudget covering it
allows zero disruptions. At most --budget pods move in one run.

  --plan                 print the plan (the default)
  --apply                run it: hold the node (annotation gpk.dev/defrag-hold, which the
                         extender honours), evict each pod through the Eviction API (PDBs
                         enforced by the API server), wait until gpk-scheduler has bound its
                         replacement, then until the pending pod is bound; stop at the first
                         failure; the hold is always removed
  --budget <n>           most pods moved in one run (default 4)
  --pool <name>          only this pool (label gpk.dev/pool): its hot nodes, the pending pods
                         that may use its nodes, and moves within it
  --timeout <s>          most seconds to wait for one replacement or pending pod (default 300)
  --kubeconfig <file>    default: $KUBECONFIG, then ~/.kube/config
  --telemetry-url <url>  a GPU exporter's metrics URL; repeatable
  --hot-temperature <C>  default 83, the extender's
  --json                 print ${helpShape("defrag", "plan", 25)}
                         --apply: ${helpShape("defrag", "apply", 25)}
                         ("bound": the node the pending pod went to, or null; "error": null or why the step stopped)

Exit: 0 planned or applied, 1 a step of --apply failed (what moved is reported),
2 bad flags or a cluster it cannot reach.`;

interface MovedPod {
  namespace: string;
  name: string;
  from: string;
  /** The controller's new pod and the node gpk-scheduler bound it to. */
  replacement: string;
  to: string;
}

interface AppliedStep {
  trigger: DefragTrigger;
  node: string;
  moved: MovedPod[];
  /** Where the pending pod was bound; null for a hot node or when the step failed first. */
  bound: string | null;
  error: string | null;
}

class StepFailed extends Error {}

const podsPath = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutS: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new StepFailed(`timed out after ${timeoutS} s waiting for ${what}`);
    await sleep(500);
  }
}

async function setHold(client: KubeClient, node: string, value: string | null): Promise<void> {
  await client.mergePatch(`/api/v1/nodes/${encodeURIComponent(node)}`, { metadata: { annotations: { [KIT_ANNOTATIONS.defragHold]: value } } });
}

/** Evicts one pod and waits until it is gone and its controller's replacement is bound. */
async function movePod(client: KubeClient, step: PlannedStep, move: PlannedStep["moves"][number], timeoutS: number): Promise<MovedPod> {
  const key = `${move.namespace}/${move.name}`;
  const pod = await client.get<K8sPod>(`${podsPath(move.namespace)}/${encodeURIComponent(move.name)}`);
  if (!pod || pod.spec.nodeName !== move.from) throw new StepFailed(`pod ${key} is no longer on ${move.from}; the cluster changed since the plan`);
  const owner = controllerOf(pod);
  if (!owner) throw new StepFailed(`pod ${key} has no controller any more`);
  const siblings = async () => (await client.list<K8sPod>(podsPath(move.namespace))).items.filter((p) => controllerOf(p)?.uid === owner.uid);
  const before = new Set((await siblings()).map((p) => p.metadata.uid));
  try {
    await client.evict(move.namespace, move.name);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 429) throw new StepFailed(`the API server refused to evict ${key}: a PodDisruptionBudget allows no disruption (${err.message})`);
    throw new StepFailed(`evicting ${key} failed: ${describeError(err)}`);
  }
  progress(`gpk defrag: evicted ${key} from ${move.from}; waiting for ${owner.kind} ${owner.name} to replace it`);
  const replacement = await waitFor(`${owner.kind} ${owner.name} to replace ${key} and gpk-scheduler to bind it`, timeoutS, async () => {
    const all = await siblings();
    if (all.some((p) => p.metadata.uid === pod.metadata.uid)) return undefined; // still terminating
    return all.find((p) => !before.has(p.metadata.uid) && p.spec.nodeName);
  });
  const to = replacement.spec.nodeName!;
  if (to === step.node) throw new StepFailed(`the replacement of ${key} (${replacement.metadata.name}) was bound to ${to}, the node held for this step; is the extender running?`);
  progress(`gpk defrag: ${key} is back as ${replacement.metadata.name} on ${to}`);
  return { namespace: move.namespace, name: move.name, from: move.from, replacement: replacement.metadata.name, to };
}

async function applyStep(client: KubeClient, step: PlannedStep, timeoutS: number): Promise<AppliedStep> {
  const applied: AppliedStep = { trigger: step.trigger, node: step.node, moved: [], bound: null, error: null };
  try {
    await setHold(client, step.node, step.hold);
  } catch (err) {
    applied.error = `holding node ${step.node} failed: ${describeError(err)}`;
    return applied;
  }
  try {
    for (const move of step.moves) applied.moved.push(await movePod(client, step, move, timeoutS));
    if (step.trigger.kind === "fragmented") {
      const { namespace, name } = step.trigger;
      const bound = await waitFor(`pod ${namespace}/${name} to be bound`, timeoutS, async () => {
        const pod = await client.get<K8sPod>(`${podsPath(namespace)}/${encodeURIComponent(name)}`);
        if (!pod) throw new StepFailed(`pod ${namespace}/${name} was deleted while the step ran`);
        return pod.spec.nodeName;
      });
      applied.bound = bound;
      progress(`gpk defrag: ${namespace}/${name} is bound to ${bound}`);
    }
  } catch (err) {
    applied.error = err instanceof StepFailed ? err.message : describeError(err);
  } finally {
    try {
      await setHold(client, step.node, null);
    } catch (err) {
      const message = `removing the hold on ${step.node} failed (remove annotation ${KIT_ANNOTATIONS.defragHold} by hand): ${describeError(err)}`;
      applied.error = applied.error ? `${applied.error}; ${message}` : message;
    }
  }
  return applied;
}

function describeTrigger(t: DefragTrigger): string {
  return t.kind === "fragmented" ? `pending ${t.namespace}/${t.name} (${t.gpus} GPU, fragmented)` : `hot node ${t.node} (GPU ${t.gpus.join(", ")})`;
}

function formatPlan(plan: DefragPlan): string {
  const lines: string[] = [];
  const moves = plan.plans.reduce((s, p) => s + p.moves.length, 0);
  lines.push(plan.plans.length ? `Plan: ${moves} move(s) of a budget of ${plan.budget}` : "Plan: nothing to move");
  for (const step of plan.plans) {
    lines.push(`  ${describeTrigger(step.trigger)}: hold ${step.node} (${step.hold})`);
    for (const m of step.moves) lines.push(`    move ${m.namespace}/${m.name}: ${m.from} -> ${m.to} (GPU ${m.gpus.join(", ")})`);
    for (const s of step.staying) lines.push(`    stays ${s.namespace}/${s.name}: ${s.reason}`);
  }
  for (const u of plan.unplanned) lines.push(`  no plan for ${describeTrigger(u.trigger)}: ${u.reason}`);
  return lines.join("\n");
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      kubeconfig: { type: "string" },
      plan: { type: "boolean", default: false },
      apply: { type: "boolean", default: false },
      budget: { type: "string" },
      pool: { type: "string" },
      timeout: { type: "string" },
      "telemetry-url": { type: "string", multiple: true },
      "hot-temperature": { type: "string" },
      json: { type: "boolean", default: false },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.plan && values.apply) throw new UsageError("--plan and --apply exclude each other");
    const budget = numberFlag("budget", values.budget, 4, { min: 1, max: 1000, integer: true });
    const timeoutS = numberFlag("timeout", values.timeout, 300, { min: 1, max: 86_400 });
    const hotTemperatureC = hotTemperatureFlag(values["hot-temperature"]);
    const urls = (values["telemetry-url"] as string[] | undefined) ?? [];
    checkUrls("--telemetry-url", urls);
    const kubeconfig = kubeconfigPath(values.kubeconfig);

    let client: KubeClient | undefined;
    try {
      let nodes: K8sNode[];
      let pods: K8sPod[];
      let pdbs: K8sPodDisruptionBudget[];
      try {
        client = await connect(kubeconfig);
        progress(`Reading nodes, pods and PodDisruptionBudgets through ${kubeconfig}...`);
        ({ nodes, pods } = await listNodesAndPods(client));
        pdbs = (await client.list<K8sPodDisruptionBudget>("/apis/policy/v1/poddisruptionbudgets")).items;
      } catch (err) {
        process.stderr.write(`gpk defrag: cannot read the cluster through ${kubeconfig}: ${describeError(err)}\n`);
        return ExitCode.Usage;
      }
      const { samples, probes } = await scrapeTelemetry(urls);
      for (const p of probes.filter((x) => !x.ok)) progress(`gpk defrag: telemetry ${p.url} did not answer (${p.error}); its GPUs count as cool`);
      const pool = values.pool as string | undefined;
      if (pool !== undefined && !nodes.some((n) => n.metadata.labels?.[KIT_LABELS.pool] === pool)) {
        process.stderr.write(`gpk defrag: --pool: no node has the label ${KIT_LABELS.pool}=${pool}\n`);
        return ExitCode.Usage;
      }
      const plan = planDefrag({ nodes, pods, pdbs, telemetry: samples, hotTemperatureC, budget, pool });
      const report: DefragPlan & { telemetry: Probe[]; applied?: AppliedStep[]; ok?: boolean } = { ...plan, telemetry: probes };
      if (values.apply) {
        report.applied = [];
        for (const step of plan.plans) {
          progress(`gpk defrag: ${describeTrigger(step.trigger)}: holding ${step.node}, ${step.moves.length} move(s)`);
          const applied = await applyStep(client, step, timeoutS);
          report.applied.push(applied);
          if (applied.error) break;
        }
        report.ok = report.applied.every((a) => !a.error);
      }
      if (values.json) printJson(report);
      else {
        const lines = [formatPlan(plan)];
        for (const a of report.applied ?? []) {
          lines.push(`Applied ${describeTrigger(a.trigger)}:`);
          for (const m of a.moved) lines.push(`  moved ${m.namespace}/${m.name}: ${m.from} -> ${m.to} as ${m.replacement}`);
          if (a.bound) lines.push(`  bound to ${a.bound}`);
          if (a.error) lines.push(`  failed: ${a.error}`);
        }
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      return report.ok === false ? ExitCode.Finding : ExitCode.Ok;
    } finally {
      client?.close();
    }
  },
};
