/**
 * One policy pack run the way the Pulumi engine runs it: a child process executing
 * `@pulumi/pulumi/cmd/run-policy-pack <engine-address> .` in the pack's directory (what the
 * CLI's `pulumi-analyzer-policy` launcher does), which starts @pulumi/policy's analyzer
 * gRPC server and prints its port; then the engine's calls over gRPC.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";

const LEVELS: Record<number, EnforcementLevel> = {
  [pb.EnforcementLevel.ADVISORY]: "advisory",
  [pb.EnforcementLevel.MANDATORY]: "mandatory",
  [pb.EnforcementLevel.REMEDIATE]: "remediate",
  [pb.EnforcementLevel.DISABLED]: "disabled",
};
const LEVEL_CODES: Record<EnforcementLevel, pb.EnforcementLevel> = {
  advisory: pb.EnforcementLevel.ADVISORY,
  mandatory: pb.EnforcementLevel.MANDATORY,
  remediate: pb.EnforcementLevel.REMEDIATE,
  disabled: pb.EnforcementLevel.DISABLED,
};

export interface PolicyInfo {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  stack: boolean;
  /** JSON-schema `properties` of the policy's config. */
  configSchema?: Record<string, Record<string, unknown>>;
}

export interface Diagnostic {
  policyName: string;
  policyPackName: string;
  description: string;
  message: string;
  enforcementLevel: EnforcementLevel;
  urn: string;
}

export interface Remediation {
  policyName: string;
  description: string;
  properties?: Record<string, unknown>;
  diagnostic: string;
}

/** What the engine knows of one resource when it asks a pack about it. */
export interface AnalyzerResourceInput {
  urn: string;
  type: string;
  name: string;
  properties: Record<string, unknown>;
  parent?: string;
  dependencies?: string[];
}

export interface PolicyConfigEntry {
  enforcementLevel: EnforcementLevel;
  properties: Record<string, unknown>;
}

/** Plain JSON only: Struct has no `undefined`, and inputs may carry it. */
function toStruct(value: Record<string, unknown>): Struct {
  return Struct.fromJavaScript(JSON.parse(JSON.stringify(value)));
}

function options(parent?: string): pb.AnalyzerResourceOptions {
  const opts = new pb.AnalyzerResourceOptions();
  opts.setProtect(false);
  opts.setCustomtimeouts(new pb.AnalyzerResourceOptions.CustomTimeouts());
  if (parent) opts.setParent(parent);
  return opts;
}

function analyzeRequest(r: AnalyzerResourceInput): pb.AnalyzeRequest {
  const req = new pb.AnalyzeRequest();
  req.setUrn(r.urn);
  req.setType(r.type);
  req.setName(r.name);
  req.setProperties(toStruct(r.properties));
  req.setOptions(options(r.parent));
  return req;
}

function diagnostics(resp: pb.AnalyzeResponse, fallbackUrn: string): Diagnostic[] {
  return resp.getDiagnosticsList().map((d) => ({
    policyName: d.getPolicyname(),
    policyPackName: d.getPolicypackname(),
    description: d.getDescription(),
    message: d.getMessage(),
    enforcementLevel: LEVELS[d.getEnforcementlevel()] ?? "advisory",
    urn: d.getUrn() || fallbackUrn,
  }));
}

type Unary<Req, Res> = (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

export class PackAnalyzer {
  private constructor(
    readonly packDir: string,
    private readonly child: ChildProcess,
    private readonly client: AnalyzerClient,
    private readonly stderr: () => string,
  ) {}

  /** Starts the pack's program and connects once it prints its port. */
  static async start(packDir: string, { timeoutMs = 60_000 } = {}): Promise<PackAnalyzer> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir] });
    // The engine passes its own address first; the runner drops it. Nothing here dials it.
    const child = spawn(process.execPath, [runner, "127.0.0.1:0", "."], {
      cwd: packDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-8000);
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        child.kill();
        reject(new Error(`policy pack ${packDir} failed to start: ${e.message}${err ? `\n${err.trim()}` : ""}`));
      };
      child.on("error", fail);
      child.on("exit", (code) => fail(new Error(`exited with code ${code} before printing its port`)));
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const line = out.split("\n").find((l) => /^\d+$/.test(l.trim()));
        if (line) {
          clearTimeout(timer);
          child.removeAllListeners("exit");
          resolve(Number(line.trim()));
        }
      });
    });
    const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 400 * 1024 * 1024,
      "grpc.max_send_message_length": 400 * 1024 * 1024,
    });
    return new PackAnalyzer(packDir, child, client, () => err);
  }

  private call<Req, Res>(method: Unary<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, (e, res) => {
        if (e) reject(new Error(`${e.details || e.message}${this.stderr() ? `\n${this.stderr().trim()}` : ""}`));
        else resolve(res);
      });
    });
  }

  async getAnalyzerInfo(): Promise<{ name: string; version: string; policies: PolicyInfo[] }> {
    const info = await this.call<Empty, pb.AnalyzerInfo>(this.client.getAnalyzerInfo, new Empty());
    const policies = info.getPoliciesList().map((p) => ({
      name: p.getName(),
      description: p.getDescription(),
      enforcementLevel: LEVELS[p.getEnforcementlevel()] ?? "advisory",
      stack: p.getPolicyType() === pb.PolicyType.POLICY_TYPE_STACK,
      configSchema: p.getConfigschema()?.getProperties()?.toJavaScript() as PolicyInfo["configSchema"],
    }));
    return { name: info.getName(), version: info.getVersion(), policies };
  }

  async configure(config: Record<string, PolicyConfigEntry>): Promise<void> {
    const req = new pb.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const [name, entry] of Object.entries(config)) {
      const pc = new pb.PolicyConfig();
      pc.setEnforcementlevel(LEVEL_CODES[entry.enforcementLevel]);
      pc.setProperties(toStruct(entry.properties));
      map.set(name, pc);
    }
    await this.call(this.client.configure, req);
  }

  async analyze(resource: AnalyzerResourceInput): Promise<Diagnostic[]> {
    return diagnostics(await this.call(this.client.analyze, analyzeRequest(resource)), resource.urn);
  }

  async remediate(resource: AnalyzerResourceInput): Promise<Remediation[]> {
    const resp = await this.call<pb.AnalyzeRequest, pb.RemediateResponse>(this.client.remediate, analyzeRequest(resource));
    return resp.getRemediationsList().map((r) => ({
      policyName: r.getPolicyname(),
      description: r.getDescription(),
      properties: r.getProperties()?.toJavaScript(),
      diagnostic: r.getDiagnostic(),
    }));
  }

  async analyzeStack(resources: AnalyzerResourceInput[]): Promise<Diagnostic[]> {
    const req = new pb.AnalyzeStackRequest();
    req.setResourcesList(
      resources.map((r) => {
        const ar = new pb.AnalyzerResource();
        ar.setUrn(r.urn);
        ar.setType(r.type);
        ar.setName(r.name);
        ar.setProperties(toStruct(r.properties));
        ar.setOptions(options(r.parent));
        if (r.parent) ar.setParent(r.parent);
        ar.setDependenciesList(r.dependencies ?? []);
        return ar;
      }),
    );
    return diagnostics(await this.call(this.client.analyzeStack, req), "");
  }

  /** Closes the channel and ends the pack's process. */
  close(): void {
    this.client.close();
    if (this.child.exitCode === null) this.child.kill();
  }
}
