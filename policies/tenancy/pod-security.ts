/**
 * Host access breaks tenancy: a privileged container, a hostPath mount or a host namespace
 * reaches every other tenant's pods on the node. Only the node agents in the allowlisted
 * namespaces (device plugin, telemetry) need it.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { configSchema, readConfig } from "../lib/config";
import { containersOf, formatPath, namespaceOf, podSpecs, type Json } from "../lib/k8s";

/** What a pod spec does that needs host access, one phrase per finding. */
export function hostAccess(spec: Json): string[] {
  const found: string[] = [];
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[field] === true) found.push(`sets ${field}: true`);
  for (const v of (spec.volumes ?? []) as Json[]) if (v?.hostPath) found.push(`mounts hostPath ${JSON.stringify(v.hostPath.path)} (volume "${v.name}")`);
  for (const { container, list, index } of containersOf(spec)) {
    const sc: Json = container.securityContext ?? {};
    const who = `container "${container.name ?? index}" (${list}[${index}])`;
    if (sc.privileged === true) found.push(`runs ${who} privileged`);
    const added: unknown[] = sc.capabilities?.add ?? [];
    if (added.length > 0) found.push(`adds capabilities ${added.join(", ")} to ${who}`);
  }
  return found;
}

export const noHostAccessOutsideSystem: ResourceValidationPolicy = {
  name: "no-host-access-outside-system",
  description:
    "Checks whether pods outside `privilegedNamespaces` avoid privileged containers, hostPath volumes, hostNetwork, hostPID, hostIPC and added capabilities.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("privilegedNamespaces"),
  validateResource: (args, reportViolation) => {
    const { privilegedNamespaces } = readConfig(args, "privilegedNamespaces");
    const ns = namespaceOf(args.props);
    if (privilegedNamespaces.includes(ns)) return;
    for (const pod of podSpecs(args.type, args.props)) {
      for (const finding of hostAccess(pod.spec)) {
        reportViolation(
          `The ${pod.label} of "${args.name}" in namespace "${ns}" (${formatPath(pod.path)}) ${finding}; ` +
            `remove it, or run the workload in a system namespace (${privilegedNamespaces.join(", ")}) if it is a node agent.`,
        );
      }
    }
  },
};

export const podSecurityPolicies = [noHostAccessOutsideSystem];
