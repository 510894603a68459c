/**
 * How SchedulerExtender is wired in the rendered prod stack (Pulumi mocks): the extender from
 * its bundle with PDB, probe and RBAC; the second kube-scheduler with its configuration, lease
 * and upstream roles; the platform's GPU workloads on gpk-scheduler; all schema-valid.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderStack, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { GPK_SCHEDULER_NAME } from "../../gpu";
import { IMAGES, imageRef } from "../../components/pins";
import { RUNTIME_HASH_ANNOTATION } from "../../components/runtime-bundle";
import { kubeSchedulerConfiguration } from "../../components/scheduler-extender";
import { one } from "../render/helpers";

let stack: RenderedStack;
let children: RenderedStack["resources"];
beforeAll(async () => {
  stack = await renderStack("prod");
  const component = one(stack, "gpk:index:SchedulerExtender", "gpk-scheduler-extender");
  const urns = new Set([component.urn]);
  // The component's whole subtree (the runtime bundle is a child component).
  for (let grew = true; grew;) {
    grew = false;
    for (const r of stack.resources) if (r.parent && urns.has(r.parent) && !urns.has(r.urn)) urns.add(r.urn), (grew = true);
  }
  children = stack.resources.filter((r) => urns.has(r.urn) && r.urn !== component.urn);
});

const find = (type: string, name: string) => {
  const found = children.filter((r) => r.type === `kubernetes:${type}` && (r.inputs as any).metadata?.name === name);
  expect(found, `${type} ${name}`).toHaveLength(1);
  return found[0]!.inputs as any;
};

describe("SchedulerExtender in the prod stack", () => {
  it("outputs the summary the thermal policy pack reads", () => {
    expect(one(stack, "gpk:index:SchedulerExtender", "gpk-scheduler-extender").inputs).toEqual({ schedulerName: GPK_SCHEDULER_NAME, namespace: "gpk-system", thermalAware: true });
  });

  it("runs the extender bundle: 2 replicas, readiness on /healthz, restricted, telemetry from dcgm-exporter pods", () => {
    const dep = find("apps/v1:Deployment", "gpk-scheduler-extender");
    expect(dep.metadata.namespace).toBe("gpk-system");
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(dep.spec.template.metadata.annotations[RUNTIME_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    expect(pod.serviceAccountName).toBe("gpk-scheduler-extender");
    const c = pod.containers[0];
    expect(c.command).toEqual(["node", "/opt/gpk/scheduler-extender.js"]);
    expect(c.args).toEqual(["--in-cluster", "--policy", "gpk", "--port", "8888", "--telemetry-pods", "app.kubernetes.io/name=dcgm-exporter", "--telemetry-port", "9400"]);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(find("policy/v1:PodDisruptionBudget", "gpk-scheduler-extender").spec).toEqual({ minAvailable: 1, selector: dep.spec.selector });
    const svc = find("core/v1:Service", "gpk-scheduler-extender");
    expect(svc.spec).toMatchObject({ selector: dep.spec.selector.matchLabels, sessionAffinity: "ClientIP", ports: [{ port: 8888, targetPort: "http" }] });
    find("core/v1:ConfigMap", dep.spec.template.spec.volumes[0].configMap.name);
  });

  it("grants the extender exactly get/list/watch nodes and pods and create pods/binding", () => {
    const role = find("rbac.authorization.k8s.io/v1:ClusterRole", "gpk-scheduler-extender");
    const grants = role.rules.flatMap((r: any) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${res}`))).sort();
    expect(grants).toEqual(["create pods/binding", "get nodes", "get pods", "list nodes", "list pods", "watch nodes", "watch pods"]);
    const bindings = children.filter((r) => r.type.endsWith(":ClusterRoleBinding")).map((r) => r.inputs as any);
    const extenderBinding = bindings.find((b) => b.roleRef.name === "gpk-scheduler-extender");
    expect(extenderBinding.subjects).toEqual([{ kind: "ServiceAccount", name: "gpk-scheduler-extender", namespace: "gpk-system" }]);
  });

  it("runs the pinned kube-scheduler with the gpk-scheduler configuration and leader election", () => {
    const dep = find("apps/v1:Deployment", GPK_SCHEDULER_NAME);
    const c = dep.spec.template.spec.containers[0];
    expect(c.image).toBe(imageRef(IMAGES.kubeScheduler));
    expect(c.command).toEqual(["/usr/local/bin/kube-scheduler", "--config=/etc/gpk-scheduler/config.yaml"]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: 10259, scheme: "HTTPS" });
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(dep.spec.template.spec.serviceAccountName).toBe(GPK_SCHEDULER_NAME);
    const config = parse(find("core/v1:ConfigMap", `${GPK_SCHEDULER_NAME}-config`).data["config.yaml"]);
    expect(config).toEqual(kubeSchedulerConfiguration({ namespace: "gpk-system", weight: 100, percentageOfNodesToScore: 100, httpTimeout: "5s" }));
    expect(find("policy/v1:PodDisruptionBudget", GPK_SCHEDULER_NAME).spec.minAvailable).toBe(1);
  });

  it("binds the scheduler to the upstream roles and its own lease", () => {
    const crbs = children.filter((r) => r.type.endsWith(":ClusterRoleBinding")).map((r) => r.inputs as any).filter((b) => b.subjects[0].name === GPK_SCHEDULER_NAME);
    expect(crbs.map((b) => b.roleRef.name).sort()).toEqual(["system:kube-scheduler", "system:volume-scheduler"]);
    const reader = find("rbac.authorization.k8s.io/v1:RoleBinding", `${GPK_SCHEDULER_NAME}-extension-apiserver-authentication-reader`);
    expect(reader.metadata.namespace).toBe("kube-system");
    expect(reader.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" });
    expect(reader.subjects).toEqual([{ kind: "ServiceAccount", name: GPK_SCHEDULER_NAME, namespace: "gpk-system" }]);
    const lease = find("rbac.authorization.k8s.io/v1:Role", `${GPK_SCHEDULER_NAME}-lease`);
    expect(lease.rules).toContainEqual({ apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [GPK_SCHEDULER_NAME], verbs: ["get", "update"] });
  });

  it("puts the platform's own GPU workloads on gpk-scheduler", () => {
    const serving = stack.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && JSON.stringify(r.inputs).includes("nvidia.com/gpu"));
    expect(serving.length).toBeGreaterThan(0);
    for (const d of serving) expect((d.inputs as any).spec.template.spec.schedulerName).toBe(GPK_SCHEDULER_NAME);
  });

  it("renders only schema-valid objects", () => {
    expect(validateResources(children).schemaErrors).toEqual([]);
  });
});
