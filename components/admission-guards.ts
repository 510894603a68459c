/**
 * `gpk:index:AdmissionGuards`: the tenancy rules the API server itself enforces, on every pod
 * whoever creates it (kubectl, a controller, a CI job), as ValidatingAdmissionPolicies with
 * their bindings (`admissionregistration.k8s.io/v1`, CEL, built into the API server since
 * Kubernetes 1.30: no webhook or controller to run). The policy packs check what a stack
 * renders; these hold afterwards.
 *
 * - `gpk-gpu-requests-equal-limits`: a container's GPU and MIG requests equal its limits.
 * - `gpk-gpu-toleration-scope`: only pods in tenant namespaces (labelled `gpk.dev/tenant`; every
 *   tenant is allowed a GPU pool) tolerate the GPU taint. A namespace an admin adds by hand
 *   joins by bearing the label, which tenants cannot set (their Role has no namespace access).
 * - `gpk-dedicated-pool-tolerations`: no pod in a tenant namespace tolerates another tenant's
 *   dedicated-pool taint (`gpk.dev/tenant=<other>`), nor every taint at once.
 * - `gpk-strict-tenant-pools-<tenant>`: in a strict tenant's namespace, a pod that asks for
 *   GPUs or tolerates the GPU taint selects one of the tenant's pools (`gpk.dev/pool`).
 *
 * Each binding exempts the kit's system namespaces by name. `failurePolicy` and the bindings'
 * `validationActions` come from `gpk:admission` (Fail and Deny by default).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  ADMISSION_DEFAULTS, ADMISSION_GUARDS, GPU_RESOURCE, GPU_TAINT, KIT_LABELS, MANAGED_BY, SYSTEM_NAMESPACES, strictPoolsGuardName,
  type TenantIsolation, type ValidationAction,
} from "../gpu";

export interface AdmissionGuardsArgs {
  /** Tenants: their namespace, pools and isolation. Required. */
  tenants: { namespace: string; allowedPools: string[]; isolation: TenantIsolation }[];
  /** Namespaces exempt from every guard. Default: the kit's system namespaces. */
  systemNamespaces?: string[];
  /** `Fail` (refuse when a policy cannot be evaluated) or `Ignore`. Default `Fail`. */
  failurePolicy?: "Fail" | "Ignore";
  /** What a violation does. Default [Deny]. */
  validationActions?: ValidationAction[];
}

const POD_RULES = [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }];

/** CEL: the pod's containers and init containers. */
const CONTAINERS = "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])";
/** CEL, with `k` a resource name: a GPU or a MIG device. */
const IS_GPU_KEY = `(k == '${GPU_RESOURCE}' || k.startsWith('nvidia.com/mig-'))`;
/** CEL: the pod's tolerations. */
const TOLERATIONS = "has(object.spec.tolerations) ? object.spec.tolerations : []";
/** CEL, with `t` a toleration: an empty key with Exists, which tolerates every taint. */
const TOLERATES_ALL = "(!has(t.key) || t.key == '') && has(t.operator) && t.operator == 'Exists'";
/** CEL, with `t` a toleration: it tolerates the GPU taint, by name or as every taint. */
const TOLERATES_GPU_TAINT = `(has(t.key) && t.key == '${GPU_TAINT.key}') || ${TOLERATES_ALL}`;

function nameNotIn(names: string[]) {
  return { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...names].sort() };
}

export interface GuardPolicy {
  name: string;
  spec: Record<string, unknown>;
  bindingNamespaces: Record<string, unknown>;
}

/** The policies and their bindings' namespace selectors, as pure data. */
export function admissionGuardPolicies(a: Required<Pick<AdmissionGuardsArgs, "tenants" | "systemNamespaces" | "failurePolicy">>): GuardPolicy[] {
  const exempt = nameNotIn(a.systemNamespaces);
  const base = (variables: { name: string; expression: string }[], validations: object[]) => ({
    failurePolicy: a.failurePolicy,
    matchConstraints: { resourceRules: POD_RULES },
    variables,
    validations,
  });
  const celList = (items: string[]) => `[${items.map((i) => `'${i}'`).join(", ")}]`;
  const policies: GuardPolicy[] = [
    {
      name: ADMISSION_GUARDS.requestsEqualLimits,
      spec: base([{ name: "containers", expression: CONTAINERS }], [{
        expression:
          "variables.containers.all(c, !has(c.resources) || (" +
          `(has(c.resources.limits) ? c.resources.limits.filter(k, ${IS_GPU_KEY}) : []).all(k, has(c.resources.requests) && k in c.resources.requests && quantity(string(c.resources.requests[k])).compareTo(quantity(string(c.resources.limits[k]))) == 0) && ` +
          `(has(c.resources.requests) ? c.resources.requests.filter(k, ${IS_GPU_KEY}) : []).all(k, has(c.resources.limits) && k in c.resources.limits)))`,
        messageExpression: `'${ADMISSION_GUARDS.requestsEqualLimits}: every container must request exactly the GPUs (and MIG devices) it limits itself to; GPUs are not overcommitted'`,
        reason: "Invalid",
      }]),
      bindingNamespaces: { matchExpressions: [exempt] },
    },
    {
      name: ADMISSION_GUARDS.tolerationScope,
      spec: base([{ name: "tolerations", expression: TOLERATIONS }], [{
        expression: `!variables.tolerations.exists(t, ${TOLERATES_GPU_TAINT})`,
        messageExpression: `'${ADMISSION_GUARDS.tolerationScope}: namespace ' + namespaceObject.metadata.name + ' is no tenant\\'s (no ${KIT_LABELS.tenant} label), so its pods may use no GPU pool and may not tolerate the ${GPU_TAINT.key} taint'`,
        reason: "Forbidden",
      }]),
      // Tenants are allowed a GPU pool each (config requires one); everyone else is not.
      bindingNamespaces: { matchExpressions: [{ key: KIT_LABELS.tenant, operator: "DoesNotExist" }, exempt] },
    },
    {
      name: ADMISSION_GUARDS.dedicatedPools,
      spec: base([{ name: "tolerations", expression: TOLERATIONS }], [{
        expression:
          `!variables.tolerations.exists(t, ${TOLERATES_ALL} || (has(t.key) && t.key == '${KIT_LABELS.tenant}' && ` +
          "((has(t.operator) && t.operator == 'Exists') || !has(t.value) || t.value != namespaceObject.metadata.name)))",
        messageExpression: `'${ADMISSION_GUARDS.dedicatedPools}: pods in tenant namespace ' + namespaceObject.metadata.name + ' may tolerate only their own tenant\\'s pool taint (${KIT_LABELS.tenant}=' + namespaceObject.metadata.name + '), never another tenant\\'s or every taint'`,
        reason: "Forbidden",
      }]),
      bindingNamespaces: { matchExpressions: [{ key: KIT_LABELS.tenant, operator: "Exists" }, exempt] },
    },
  ];
  for (const tenant of a.tenants.filter((t) => t.isolation === "strict")) {
    const pools = celList(tenant.allowedPools);
    policies.push({
      name: strictPoolsGuardName(tenant.namespace),
      spec: base([
        { name: "containers", expression: CONTAINERS },
        { name: "tolerations", expression: TOLERATIONS },
        {
          name: "wantsGpu",
          expression: `variables.containers.exists(c, has(c.resources) && ((has(c.resources.limits) && c.resources.limits.exists(k, ${IS_GPU_KEY})) || (has(c.resources.requests) && c.resources.requests.exists(k, ${IS_GPU_KEY})))) || variables.tolerations.exists(t, ${TOLERATES_GPU_TAINT})`,
        },
      ], [{
        expression: `!variables.wantsGpu || (has(object.spec.nodeSelector) && '${KIT_LABELS.pool}' in object.spec.nodeSelector && object.spec.nodeSelector['${KIT_LABELS.pool}'] in ${pools})`,
        messageExpression: `'${strictPoolsGuardName(tenant.namespace)}: tenant ${tenant.namespace} is strict (it shares no GPU with other tenants): a GPU pod must select one of its pools with nodeSelector ${KIT_LABELS.pool}: ${tenant.allowedPools.join(", ")}' + (has(object.spec.nodeSelector) && '${KIT_LABELS.pool}' in object.spec.nodeSelector ? ', not ' + object.spec.nodeSelector['${KIT_LABELS.pool}'] : '')`,
        reason: "Forbidden",
      }]),
      bindingNamespaces: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [tenant.namespace] }] },
    });
  }
  return policies;
}

export class AdmissionGuards extends pulumi.ComponentResource {
  public readonly policyNames: string[];

  constructor(name: string, args: AdmissionGuardsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:AdmissionGuards", name, {}, opts);
    const labels = { [KIT_LABELS.managedBy]: MANAGED_BY };
    const policies = admissionGuardPolicies({
      tenants: args.tenants,
      systemNamespaces: args.systemNamespaces ?? [...SYSTEM_NAMESPACES],
      failurePolicy: args.failurePolicy ?? ADMISSION_DEFAULTS.failurePolicy,
    });
    const validationActions = args.validationActions ?? [...ADMISSION_DEFAULTS.validationActions];
    for (const p of policies) {
      const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-${p.name}`, { metadata: { name: p.name, labels }, spec: p.spec }, { parent: this });
      new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-${p.name}`, {
        metadata: { name: p.name, labels },
        spec: { policyName: policy.metadata.name, validationActions, matchResources: { namespaceSelector: p.bindingNamespaces } },
      }, { parent: this });
    }
    this.policyNames = policies.map((p) => p.name);
    this.registerOutputs({ policyNames: this.policyNames, validationActions });
  }
}
