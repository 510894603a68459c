/**
 * `gpk:index:EksCluster`: the EKS control plane the GPU pools join — created with its own
 * IAM role in the given subnets, or adopted by name — and a kubeconfig for it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { KIT_LABELS, MANAGED_BY } from "../gpu";

export const EKS_DEFAULTS = {
  kubernetesVersion: "1.33",
  endpointPublicAccess: false,
  /** Control-plane logs worth keeping for an audit of who did what. */
  logTypes: ["api", "audit", "authenticator"],
} as const;

export type EksClusterArgs =
  | {
      mode: "create";
      name: string;
      /** Kubernetes minor version. Default "1.33". */
      kubernetesVersion?: string;
      /** Subnets of the control plane's ENIs and of the node groups (two AZs at least). */
      subnetIds: string[];
      /** Expose the API endpoint publicly. Default false. */
      endpointPublicAccess?: boolean;
    }
  | {
      mode: "adopt";
      /** Name of the existing cluster. */
      name: string;
      /** Subnets of the node groups. */
      subnetIds: string[];
    };

/** A kubeconfig that gets tokens from `aws eks get-token` (the AWS CLI must be on PATH). */
export function eksKubeconfig(clusterName: string, endpoint: string, certificateAuthority: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: clusterName, cluster: { server: endpoint, "certificate-authority-data": certificateAuthority } }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
    "current-context": clusterName,
    users: [{
      name: clusterName,
      user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws", args: ["eks", "get-token", "--cluster-name", clusterName, "--output", "json"] } },
    }],
  });
}

export class EksCluster extends pulumi.ComponentResource {
  public readonly clusterName: pulumi.Output<string>;
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly subnetIds: string[];

  constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:EksCluster", name, {}, opts);
    this.subnetIds = args.subnetIds;
    if (args.mode === "create") {
      const role = new aws.iam.Role(`${name}-cluster`, {
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "eks.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        description: `Control-plane role of EKS cluster ${args.name}`,
      }, { parent: this });
      const policy = new aws.iam.RolePolicyAttachment(`${name}-cluster-policy`, {
        role: role.name,
        policyArn: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
      }, { parent: this });
      const cluster = new aws.eks.Cluster(name, {
        name: args.name,
        version: args.kubernetesVersion ?? EKS_DEFAULTS.kubernetesVersion,
        roleArn: role.arn,
        vpcConfig: {
          subnetIds: args.subnetIds,
          endpointPrivateAccess: true,
          endpointPublicAccess: args.endpointPublicAccess ?? EKS_DEFAULTS.endpointPublicAccess,
        },
        // Access entries instead of the aws-auth ConfigMap.
        accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
        enabledClusterLogTypes: [...EKS_DEFAULTS.logTypes],
        tags: { [KIT_LABELS.managedBy]: MANAGED_BY },
      }, { parent: this, dependsOn: [policy] });
      this.clusterName = cluster.name;
      this.kubeconfig = pulumi
        .all([cluster.name, cluster.endpoint, cluster.certificateAuthority.data])
        .apply(([clusterName, endpoint, ca]) => eksKubeconfig(clusterName, endpoint, ca));
    } else {
      const existing = aws.eks.getClusterOutput({ name: args.name }, { parent: this });
      this.clusterName = existing.name;
      this.kubeconfig = pulumi
        .all([existing.name, existing.endpoint, existing.certificateAuthorities])
        .apply(([clusterName, endpoint, cas]) => eksKubeconfig(clusterName, endpoint, cas[0]?.data ?? ""));
    }
    this.registerOutputs({ clusterName: this.clusterName });
  }
}
