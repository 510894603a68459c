/**
 * Flags of `gpk extender` and of the in-cluster entry (runtime/scheduler-extender/main.ts):
 *
 *   --port <n>                 listen port (GPK_EXTENDER_PORT; default 8888)
 *   --host <addr>              listen address (default 0.0.0.0)
 *   --policy <name>            placement policy from the runtime/scheduling registry (GPK_EXTENDER_POLICY; default gpk)
 *   --snapshot <file>          cluster state from a JSON file (see snapshot.ts)
 *   --kubeconfig <file>        cluster state from the Kubernetes API via a kubeconfig (CLI only)
 *   --in-cluster               cluster state from the Kubernetes API via the pod's service account
 *     (no source flag: an empty cache; requests must carry full `Nodes`)
 *   --telemetry-url <url>      DCGM exporter metrics to scrape (repeatable; a headless Service name
 *                              is scraped at every address)
 *   --telemetry-pods <k=v>     also scrape every running pod with this label (repeatable; in-cluster)
 *   --telemetry-port <n>       port of those pods' metrics (default 9400)
 *   --telemetry-interval <s>   scrape period (default 15)
 *   --hot-temperature <C>      gpk: a GPU at or above this is hot (GPK_EXTENDER_HOT_TEMPERATURE_C; default: the policy's 83)
 *   --seed <n>                 seed of the `random` policy (default 42)
 *   --filter-answer <mode>     pick: a pod that fits gets only the policy's best node back, so kube-scheduler
 *                              skips scoring and prioritize (default); all: every node it fits (extender.ts)
 *   --kube-qps <n>             API requests per second of the bind client (default 50, kube-scheduler's own
 *   --kube-burst <n>           clientConnection default; burst default 100), so both schedulers bind alike
 *   --tls-cert <file>          serve the verbs over HTTPS with this certificate (PEM) ...
 *   --tls-key <file>           ... and its private key (PEM) ...
 *   --client-ca <file>         ... to callers whose client certificate this CA signed (PEM); the three go together
 *   --client-name <cn>         a client certificate subject CN allowed to call (repeatable; default gpk-scheduler)
 *   --health-port <n>          with TLS: plain-HTTP port of /healthz and /metrics (default 8889)
 *
 * The in-cluster entry serves only mutual TLS: plain HTTP would let any pod that reaches the
 * port bind pods with the extender's credentials (docs/scheduler-extender.md).
 */
import * as fs from "node:fs";
import { FlagError, numberValue, parseFlagArgs } from "../flags";
import { isPolicyName, POLICY_NAMES, type PolicyName } from "../scheduling";

/** What filter answers when the pod fits: only the policy's pick (extender.ts), or every node it fits. */
export type FilterAnswer = "pick" | "all";
export const FILTER_ANSWERS: readonly FilterAnswer[] = ["pick", "all"];

export class ExtenderConfigError extends Error {
  override readonly name = "ExtenderConfigError";
}

export type StateSource =
  | { kind: "none" }
  | { kind: "snapshot"; file: string }
  | { kind: "kubeconfig"; file: string }
  | { kind: "in-cluster" };

/** File names of a `kubernetes.io/tls` Secret, as the extender and kube-scheduler read them from its mounted folder. */
export const TLS_FILES = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;

/** The flags that serve mutual TLS from such a folder to `clientName`, health on `healthPort`. */
export function tlsFolderArgs(dir: string, clientName: string, healthPort: number): string[] {
  return [
    "--tls-cert", `${dir}/${TLS_FILES.cert}`, "--tls-key", `${dir}/${TLS_FILES.key}`, "--client-ca", `${dir}/${TLS_FILES.ca}`,
    "--client-name", clientName, "--health-port", String(healthPort),
  ];
}

/** The client identity the SchedulerExtender component gives kube-scheduler's certificate. */
export const DEFAULT_CLIENT_NAME = "gpk-scheduler";
export const DEFAULT_HEALTH_PORT = 8889;

export interface ExtenderTlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  clientNames: string[];
  healthPort: number;
}

export interface ExtenderConfig {
  port: number;
  host: string;
  /** Mutual TLS of the verbs; absent: plain HTTP (local use only). */
  tls?: ExtenderTlsFiles;
  policy: PolicyName;
  source: StateSource;
  telemetryUrls: string[];
  telemetryPods: { key: string; value: string }[];
  telemetryPort: number;
  telemetryIntervalMs: number;
  hotTemperatureC?: number;
  seed: number;
  filterAnswer: FilterAnswer;
  /** Client-side rate limit of the API calls that are not watches (binds, gets): a token bucket. */
  kubeQps: number;
  kubeBurst: number;
}

/** kube-scheduler's clientConnection defaults (kubescheduler.config.k8s.io/v1: qps 50, burst 100). */
export const DEFAULT_KUBE_QPS = 50;
export const DEFAULT_KUBE_BURST = 100;

/** The flags; a bad one is a FlagError naming it, or the GPK_* variable its value came from. */
export function parseExtenderArgs(argv: string[], env: NodeJS.ProcessEnv, opts: { allowKubeconfig: boolean }): ExtenderConfig {
  const { values, label } = parseFlagArgs(argv, {
    port: { type: "string", env: "GPK_EXTENDER_PORT", default: "8888" }, host: { type: "string", default: "0.0.0.0" },
    policy: { type: "string", env: "GPK_EXTENDER_POLICY", default: "gpk" },
    snapshot: { type: "string" }, kubeconfig: { type: "string" }, "in-cluster": { type: "boolean" },
    "telemetry-url": { type: "string", multiple: true }, "telemetry-pods": { type: "string", multiple: true },
    "telemetry-port": { type: "string", default: "9400" }, "telemetry-interval": { type: "string", default: "15" },
    "hot-temperature": { type: "string", env: "GPK_EXTENDER_HOT_TEMPERATURE_C" }, seed: { type: "string", default: "42" },
    "tls-cert": { type: "string" }, "tls-key": { type: "string" }, "client-ca": { type: "string" },
    "client-name": { type: "string", multiple: true }, "health-port": { type: "string" },
    "filter-answer": { type: "string", default: "pick" },
    "kube-qps": { type: "string", default: String(DEFAULT_KUBE_QPS) }, "kube-burst": { type: "string", default: String(DEFAULT_KUBE_BURST) },
  }, { allowPositionals: false, env });
  const intIn = (name: Parameters<typeof label>[0], raw: string, min: number, max: number) => numberValue(label(name), raw, { min, max, integer: true });
  const policy = values.policy;
  if (!isPolicyName(policy)) throw new FlagError(label("policy"), `${label("policy")}: unknown placement policy ${JSON.stringify(policy)}; valid policies: ${POLICY_NAMES.join(", ")}`);
  const given = [values.snapshot !== undefined && "--snapshot", values.kubeconfig !== undefined && "--kubeconfig", values["in-cluster"] === true && "--in-cluster"].filter(Boolean);
  if (given.length > 1) throw new ExtenderConfigError(`${given.join(" and ")}: give at most one cluster state source`);
  if (values.kubeconfig !== undefined && !opts.allowKubeconfig) throw new ExtenderConfigError("--kubeconfig: not available in the in-cluster bundle; use --in-cluster");
  const source: StateSource = values.snapshot !== undefined ? { kind: "snapshot", file: values.snapshot }
    : values.kubeconfig !== undefined ? { kind: "kubeconfig", file: values.kubeconfig }
    : values["in-cluster"] ? { kind: "in-cluster" } : { kind: "none" };
  const telemetryUrls = values["telemetry-url"] ?? [];
  for (const url of telemetryUrls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) throw new ExtenderConfigError(`--telemetry-url: expected an http(s) URL, got ${JSON.stringify(url)}`);
  }
  const telemetryPods = (values["telemetry-pods"] ?? []).map((sel) => {
    const m = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(sel);
    if (!m) throw new ExtenderConfigError(`--telemetry-pods: expected a label key=value, got ${JSON.stringify(sel)}`);
    return { key: m[1]!, value: m[2]! };
  });
  const hotRaw = values["hot-temperature"];
  let hotTemperatureC: number | undefined;
  if (hotRaw !== undefined) {
    hotTemperatureC = Number(hotRaw);
    if (hotRaw.trim() === "" || !Number.isFinite(hotTemperatureC) || hotTemperatureC <= 0 || hotTemperatureC > 150) {
      throw new FlagError(label("hot-temperature"), `${label("hot-temperature")}: expected degrees Celsius between 0 and 150, got ${JSON.stringify(hotRaw)}`);
    }
  }
  const tlsFlags = { "tls-cert": values["tls-cert"], "tls-key": values["tls-key"], "client-ca": values["client-ca"] };
  const givenTls = Object.entries(tlsFlags).filter(([, v]) => v !== undefined).map(([k]) => `--${k}`);
  let tls: ExtenderTlsFiles | undefined;
  if (givenTls.length > 0 && givenTls.length < 3) {
    const missing = Object.keys(tlsFlags).map((k) => `--${k}`).filter((k) => !givenTls.includes(k));
    throw new ExtenderConfigError(`${givenTls.join(", ")}: mutual TLS needs --tls-cert, --tls-key and --client-ca together; missing ${missing.join(", ")}`);
  }
  if (givenTls.length === 3) {
    const clientNames = values["client-name"] ?? [DEFAULT_CLIENT_NAME];
    for (const name of clientNames) if (name.trim() === "") throw new ExtenderConfigError("--client-name: expected a certificate subject CN, got an empty string");
    tls = {
      certFile: values["tls-cert"]!, keyFile: values["tls-key"]!, clientCaFile: values["client-ca"]!, clientNames,
      healthPort: intIn("health-port", values["health-port"] ?? String(DEFAULT_HEALTH_PORT), 0, 65535),
    };
  } else {
    for (const flag of ["client-name", "health-port"] as const) {
      if (values[flag] !== undefined) throw new ExtenderConfigError(`--${flag}: only with mutual TLS (--tls-cert, --tls-key, --client-ca)`);
    }
    if (source.kind === "in-cluster") {
      throw new ExtenderConfigError("--in-cluster: the in-cluster extender serves only mutual TLS; give --tls-cert, --tls-key and --client-ca (plain HTTP is for local use)");
    }
  }
  const filterAnswer = values["filter-answer"];
  if (!(FILTER_ANSWERS as readonly string[]).includes(filterAnswer)) {
    throw new ExtenderConfigError(`--filter-answer: expected one of ${FILTER_ANSWERS.join(", ")}, got ${JSON.stringify(filterAnswer)}`);
  }
  return {
    port: intIn("port", values.port, 0, 65535),
    host: values.host,
    tls,
    policy,
    source,
    telemetryUrls,
    telemetryPods,
    telemetryPort: intIn("telemetry-port", values["telemetry-port"], 1, 65535),
    telemetryIntervalMs: intIn("telemetry-interval", values["telemetry-interval"], 1, 3600) * 1000,
    hotTemperatureC,
    seed: intIn("seed", values.seed, 0, 2 ** 32 - 1),
    filterAnswer: filterAnswer as FilterAnswer,
    kubeQps: intIn("kube-qps", values["kube-qps"], 1, 100_000),
    kubeBurst: intIn("kube-burst", values["kube-burst"], 1, 100_000),
  };
}

/** Reads the PEM files of the TLS flags, naming the flag and file of one that cannot be read. */
export function readTlsFiles(tls: ExtenderTlsFiles): { cert: string; key: string; clientCa: string; clientNames: string[] } {
  const read = (flag: string, file: string) => {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new ExtenderConfigError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!text.includes("-----BEGIN ")) throw new ExtenderConfigError(`${flag}: ${file} holds no PEM block`);
    return text;
  };
  return {
    cert: read("--tls-cert", tls.certFile),
    key: read("--tls-key", tls.keyFile),
    clientCa: read("--client-ca", tls.clientCaFile),
    clientNames: tls.clientNames,
  };
}
