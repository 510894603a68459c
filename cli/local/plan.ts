/**
 * What `gpk local up|down` runs, as data: the tools it needs, the kind commands, and where
 * Pulumi keeps the local stack's state. Kept pure so the exact commands are unit-tested;
 * cli/commands/local.ts carries them out.
 */
import * as path from "node:path";

/** A tool `gpk local` needs, and how a user gets it. */
export interface RequiredTool {
  name: string;
  /** Arguments that make the tool print its version (proves it runs, not just exists). */
  versionArgs: string[];
  install: string;
}

export const REQUIRED_TOOLS: RequiredTool[] = [
  { name: "docker", versionArgs: ["version", "--format", "{{.Server.Version}}"], install: "install Docker Engine or Docker Desktop and start it (https://docs.docker.com/get-docker/)" },
  { name: "kind", versionArgs: ["version"], install: "install kind v0.29+ (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)" },
  { name: "pulumi", versionArgs: ["version"], install: "install the Pulumi CLI (https://www.pulumi.com/docs/install/)" },
];

export interface Step {
  command: string;
  args: string[];
}

export function kindCreateStep(clusterName: string, configFile: string): Step {
  return { command: "kind", args: ["create", "cluster", "--name", clusterName, "--config", configFile, "--wait", "120s"] };
}

export function kindDeleteStep(clusterName: string): Step {
  return { command: "kind", args: ["delete", "cluster", "--name", clusterName] };
}

/** The local stack keeps its Pulumi state in the checkout (a file backend), never in a cloud service. */
export function localBackend(repoRoot: string): { stateDir: string; backendUrl: string } {
  const stateDir = path.join(repoRoot, ".gpk", "state");
  return { stateDir, backendUrl: `file://${stateDir}` };
}

/**
 * Environment for the Automation API run: the file backend, and an empty passphrase for
 * the local stack's secrets unless the user set one.
 */
export function pulumiEnv(repoRoot: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = { PULUMI_BACKEND_URL: localBackend(repoRoot).backendUrl };
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) vars.PULUMI_CONFIG_PASSPHRASE = "";
  return vars;
}
