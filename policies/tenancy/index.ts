/**
 * The tenancy pack: namespaces, host access, cross-tenant references, dedicated pools, RBAC,
 * image provenance, service-account tokens and tenant checkpoint buckets. The only place that constructs this pack's
 * PolicyPack (one per process).
 */
import { PolicyPack } from "@pulumi/policy";
import { checkpointPolicies } from "./checkpoints";
import { crossTenantPolicies } from "./cross-tenant";
import { dedicatedPoolPolicies } from "./dedicated-pools";
import { imagePolicies } from "./images";
import { isolationPolicies } from "./isolation";
import { namespacePolicies } from "./namespaces";
import { podSecurityPolicies } from "./pod-security";
import { rbacPolicies } from "./rbac";
import { serviceAccountTokenPolicies } from "./service-account-token";

new PolicyPack("tenancy", {
  description: "Multi-tenant isolation for gpu-platform-kit stacks.",
  policies: [
    ...namespacePolicies,
    ...podSecurityPolicies,
    ...crossTenantPolicies,
    ...dedicatedPoolPolicies,
    ...isolationPolicies,
    ...rbacPolicies,
    ...imagePolicies,
    ...serviceAccountTokenPolicies,
    ...checkpointPolicies,
  ],
});
