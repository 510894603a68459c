/**
 * `gpk extender`: the kube-scheduler extender server (filter, prioritize, bind), the same server
 * the SchedulerExtender component runs in-cluster (runtime/scheduler-extender/main.ts).
 */
import { UsageError, checkFile, progress, type Command } from "../contract";
import { POLICY_NAMES } from "../../runtime/scheduling";
import { kubeconfigConnection } from "../../runtime/scheduler-extender/kubeconfig";
import { ExtenderConfigError, parseExtenderArgs } from "../../runtime/scheduler-extender/options";
import { startExtender } from "../../runtime/scheduler-extender/run";
import { SnapshotError } from "../../runtime/scheduler-extender/snapshot";

const usage = `Usage: gpk extender [--port 8888] [--policy gpk] [--kubeconfig <file> | --in-cluster | --snapshot <json>]
                    [--telemetry-url <url>]... [--hot-temperature <C>] [--host 0.0.0.0]
                    [--filter-answer pick|all] [--kube-qps 50] [--kube-burst 100]
                    [--tls-cert <pem> --tls-key <pem> --client-ca <pem> [--client-name <cn>]... [--health-port 8889]]

The kube-scheduler extender (k8s.io/kube-scheduler/extender/v1, PascalCase JSON):
  POST /filter, /prioritize, /bind    GET /healthz (ready once synced), /metrics

Bind accepts only a pod this extender filtered in the last 5 minutes, onto a node that filter
passed and whose taints, nodeSelector, required node affinity and dedicated pool the pod
satisfies; anything else is 403 and counted in gpk_extender_refusals_total{reason}.

Callers (docs/scheduler-extender.md):
  --tls-cert, --tls-key, --client-ca <pem files>
                        serve the verbs over HTTPS only to callers with a client certificate signed
                        by the CA (refused in the handshake otherwise) ...
  --client-name <cn>    ... whose subject CN is one of these (repeatable; default gpk-scheduler; 403 otherwise)
  --health-port <n>     with TLS, /healthz and /metrics move to this plain-HTTP port (default 8889)
  Without the three files the server speaks plain HTTP and says so in a warning: anyone who reaches
  the port could bind pods with the extender's credentials. --in-cluster requires them.

Cluster state:
  --snapshot <json>     nodes + pods from a file ({"nodes": [...], "pods": [...], "workload": [...]};
                        \`kubectl get nodes -o json\` lists are accepted); binds update it in memory
  --kubeconfig <file>   list+watch nodes and pods through the kubeconfig's current context; bind
                        creates the Binding with the chosen GPUs in the gpk.dev/gpu-assignment annotation
  --in-cluster          the same through the pod's service account
  (none)                an empty cache: requests must carry full Nodes (nodeCacheCapable: false)

Placement:
  --policy <name>       ${POLICY_NAMES.join(", ")} (default gpk)
  --telemetry-url <url> DCGM exporter metrics to scrape every --telemetry-interval seconds (default 15);
                        repeatable; a headless Service name is scraped at every address. gpk steers
                        away from GPUs at or above --hot-temperature (default 83 °C) or power-capped.
  --telemetry-pods <label=value>   also scrape every running pod with this label (with a cluster source)
  --filter-answer <mode> pick (default): a pod that fits gets back only the node the policy ranks best,
                        so kube-scheduler, left one feasible node, skips its scoring and the prioritize
                        call; the same node prioritize would score 10. all: every node the pod fits.

API client (binds):
  --kube-qps <n>, --kube-burst <n>  client-side rate limit, kube-scheduler's clientConnection defaults
                        (50 and 100): the binds of both schedulers are paced alike

Exit codes: 2 bad flags, snapshot or TLS files; otherwise runs until interrupted (0).
`;

export const command: Command = {
  usage,
  async run(argv) {
    let config;
    try {
      config = parseExtenderArgs(argv, process.env, { allowKubeconfig: true });
    } catch (err) {
      if (err instanceof ExtenderConfigError) throw new UsageError(err.message);
      throw err;
    }
    // The files named, before anything starts: a missing one or a folder is one line naming its flag.
    if (config.source.kind === "snapshot" || config.source.kind === "kubeconfig") checkFile(`--${config.source.kind}`, config.source.file);
    if (config.tls) {
      checkFile("--tls-cert", config.tls.certFile);
      checkFile("--tls-key", config.tls.keyFile);
      checkFile("--client-ca", config.tls.clientCaFile);
    }
    let running;
    try {
      running = await startExtender(config, { log: (m) => progress(`gpk extender: ${m}`), kubeconfig: kubeconfigConnection });
    } catch (err) {
      if (err instanceof SnapshotError || err instanceof ExtenderConfigError) throw new UsageError(err.message);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE" || code === "EACCES") throw new UsageError(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
      if (config.source.kind === "kubeconfig") throw new UsageError(`--kubeconfig ${config.source.file}: ${(err as Error).message}`);
      throw err;
    }
    const scheme = config.tls ? "https" : "http";
    const health = config.tls ? `; health and metrics on http://${config.host}:${running.healthPort}` : "";
    progress(`gpk extender: policy ${config.policy}, ${running.cache.nodeCount} nodes from ${config.source.kind}, listening on ${scheme}://${config.host}:${running.port}${health}`);
    void running.synced.then(() => {
      if (config.source.kind === "kubeconfig") progress(`gpk extender: synced ${running.cache.nodeCount} nodes from the API server`);
    });
    await new Promise<void>((resolve) => {
      const stop = () => void running.close().then(resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return 0;
  },
};
