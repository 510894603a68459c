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
import { extenderContainerArgs, kubeSchedulerConfiguration } from "../../components/scheduler-extender";
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

  it("runs the extender bundle: 2 replicas, mutual TLS, readiness on the health port, restricted, telemetry from dcgm-exporter pods", () => {
    const dep = find("apps/v1:Deployment", "gpk-scheduler-extender");
    expect(dep.metadata.namespace).toBe("gpk-system");
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(dep.spec.template.metadata.annotations[RUNTIME_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    expect(pod.serviceAccountName).toBe("gpk-scheduler-extender");
    const c = pod.containers[0];
    expect(c.command).toEqual(["node", "/opt/gpk/scheduler-extender.js"]);
    expect(c.args).toEqual(extenderContainerArgs({ policy: "gpk", thermalAware: true, telemetryPods: ["app.kubernetes.io/name=dcgm-exporter"] }));
    expect(c.args).toContain("--client-ca");
    expect(c.ports).toEqual([{ name: "https", containerPort: 8888 }, { name: "health", containerPort: 8889 }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(c.volumeMounts).toContainEqual({ name: "tls", mountPath: "/etc/gpk/tls", readOnly: true });
    expect(pod.volumes).toContainEqual({ name: "tls", secret: { secretName: "gpk-scheduler-extender-tls", defaultMode: 0o440 } });
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
    expect(dep.spec.template.metadata.annotations["gpk.dev/certificate-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(find("policy/v1:PodDisruptionBudget", "gpk-scheduler-extender").spec).toEqual({ minAvailable: 1, selector: dep.spec.selector });
    const svc = find("core/v1:Service", "gpk-scheduler-extender");
    expect(svc.spec).toMatchObject({ selector: dep.spec.selector.matchLabels, sessionAffinity: "ClientIP", ports: [{ port: 8888, targetPort: "https" }, { port: 8889, targetPort: "health" }] });
    find("core/v1:ConfigMap", dep.spec.template.spec.volumes[0].configMap.name);
  });

  it("issues the kit CA and a certificate for each side, into kubernetes.io/tls Secrets the CA key never enters", () => {
    const certs = Object.fromEntries(children.filter((r) => r.type === "pulumi-nodejs:dynamic/gpk:KitCertificate").map((r) => [r.name, r.inputs as any]));
    expect(Object.keys(certs).sort()).toEqual(["gpk-scheduler-extender-ca", "gpk-scheduler-extender-scheduler-client", "gpk-scheduler-extender-serving"]);
    expect(certs["gpk-scheduler-extender-ca"]).toMatchObject({ usage: "ca", commonName: "gpk-kit-ca" });
    expect(certs["gpk-scheduler-extender-serving"]).toMatchObject({ usage: "server", dnsNames: ["gpk-scheduler-extender.gpk-system.svc", "gpk-scheduler-extender.gpk-system.svc.cluster.local"], issuerKeyPem: "[secret]" });
    expect(certs["gpk-scheduler-extender-scheduler-client"]).toMatchObject({ usage: "client", commonName: "gpk-scheduler", issuerKeyPem: "[secret]" });
    for (const name of ["gpk-scheduler-extender-tls", "gpk-scheduler-client-tls"]) {
      const secret = find("core/v1:Secret", name);
      expect(secret.type).toBe("kubernetes.io/tls");
      expect(secret.stringData).toEqual({ "tls.crt": "[secret]", "tls.key": "[secret]", "ca.crt": "[secret]" });
    }
    const schedulerPod = find("apps/v1:Deployment", GPK_SCHEDULER_NAME).spec.template.spec;
    expect(schedulerPod.volumes).toContainEqual({ name: "tls", secret: { secretName: "gpk-scheduler-client-tls", defaultMode: 0o440 } });
    expect(schedulerPod.containers[0].volumeMounts).toContainEqual({ name: "tls", mountPath: "/etc/gpk/tls", readOnly: true });
  });

  it("admits only gpk-scheduler pods to the verb port and the monitoring namespace to the metrics ports", () => {
    const scheduler = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gpk-system" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": GPK_SCHEDULER_NAME, "app.kubernetes.io/managed-by": "gpu-platform-kit" } } };
    const monitoring = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } };
    expect(find("networking.k8s.io/v1:NetworkPolicy", "gpk-scheduler-extender-ingress").spec).toEqual({
      podSelector: { matchLabels: find("apps/v1:Deployment", "gpk-scheduler-extender").spec.selector.matchLabels },
      policyTypes: ["Ingress"],
      ingress: [{ from: [scheduler], ports: [{ protocol: "TCP", port: 8888 }] }, { from: [monitoring], ports: [{ protocol: "TCP", port: 8889 }] }],
    });
    expect(find("networking.k8s.io/v1:NetworkPolicy", `${GPK_SCHEDULER_NAME}-ingress`).spec.ingress).toEqual([{ from: [monitoring], ports: [{ protocol: "TCP", port: 10259 }] }]);
    // The namespaces deny the rest (the Platform's default-deny), and the GPU exporters admit the thermal-aware extender.
    for (const ns of ["gpk-system", "gpk-node"]) {
      const deny = stack.resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && (r.inputs as any).metadata.namespace === ns && (r.inputs as any).metadata.name === "default-deny-ingress");
      expect(deny.map((r) => (r.inputs as any).spec)).toEqual([{ podSelector: {}, policyTypes: ["Ingress"] }]);
    }
    const exporters = stack.resources.find((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && (r.inputs as any).metadata.name === "gpk-gpu-telemetry-ingress")!.inputs as any;
    expect(exporters.spec.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "dcgm-exporter" } });
    expect(exporters.spec.ingress).toEqual([{
      from: [monitoring, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gpk-system" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "gpk-scheduler-extender", "app.kubernetes.io/managed-by": "gpu-platform-kit" } } }],
      ports: [{ protocol: "TCP", port: 9400 }],
    }]);
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
    expect(config).toEqual(kubeSchedulerConfiguration({ namespace: "gpk-system", weight: 100, percentageOfNodesToScore: 0, httpTimeout: "5s", migResources: ["nvidia.com/mig-1g.10gb"] }));
    // kube-scheduler calls the extender only for pods asking for a managed resource: MIG pods too.
    expect(config.extenders[0].managedResources).toEqual([
      { name: "nvidia.com/gpu", ignoredByScheduler: false },
      { name: "nvidia.com/mig-1g.10gb", ignoredByScheduler: false },
    ]);
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
