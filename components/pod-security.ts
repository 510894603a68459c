/**
 * The one home of Pod Security `restricted` settings (Kubernetes "Pod Security Standards"):
 * non-root, RuntimeDefault seccomp, no privilege escalation, every capability dropped.
 * Components pick the user and whether the root filesystem is read-only; the rest is fixed.
 */

/** The user and group a pod runs as; `fsGroup` makes mounted volumes writable by that group. */
export interface RunAs {
  uid: number;
  gid: number;
  fsGroup?: number;
}

/** Pod half of `restricted`. Without `runAs` the image's own non-root user is kept. */
export function restrictedPodSecurity(runAs?: RunAs) {
  return {
    runAsNonRoot: true,
    ...(runAs ? { runAsUser: runAs.uid, runAsGroup: runAs.gid } : {}),
    ...(runAs?.fsGroup !== undefined ? { fsGroup: runAs.fsGroup } : {}),
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Container half of `restricted`. Default: the image's user, writable root filesystem. */
export function restrictedContainerSecurity(opts: { runAs?: RunAs; readOnlyRootFilesystem?: boolean } = {}) {
  return {
    runAsNonRoot: true,
    ...(opts.runAs ? { runAsUser: opts.runAs.uid, runAsGroup: opts.runAs.gid } : {}),
    allowPrivilegeEscalation: false,
    ...(opts.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}
