/**
 * The Redis a RayCluster keeps its GCS state in when GCS fault tolerance is on and the
 * stack asks the kit to deploy it: one StatefulSet replica with an append-only file on a
 * PersistentVolume (so a Redis restart keeps the state too), a ClusterIP Service, and the
 * password from a Secret the tenant owns. Pure functions; the RayCluster component creates
 * the objects.
 */
import { KIT_LABELS, MANAGED_BY } from "../gpu";
import { IMAGES, imageRef } from "./pins";
import { restrictedContainerSecurity, restrictedPodSecurity } from "./pod-security";
import { RAY_DEFAULTS, type SecretKeyRef } from "./ray-spec";

export const REDIS_PORT = 6379;

/** The official redis alpine image's `redis` user (docker-library/redis: `adduser -u 999`, group 1000). */
export const REDIS_IMAGE_USER = { uid: 999, gid: 1000 } as const;

export interface RayRedisInput {
  /** RayCluster name; the Redis objects are `<cluster>-redis`. */
  clusterName: string;
  namespace: string;
  tenant: string;
  passwordSecret: SecretKeyRef;
  /** Volume size. Default "8Gi". */
  storage?: string;
  /** StorageClass. Default: the cluster's default class. */
  storageClassName?: string;
}

export function redisName(clusterName: string): string {
  return `${clusterName}-redis`;
}

/** `host:port` the Ray head dials; resolved through the pod's DNS search path (`<svc>.<ns>.svc`). */
export function redisAddress(clusterName: string, namespace: string): string {
  return `${redisName(clusterName)}.${namespace}.svc:${REDIS_PORT}`;
}

export function redisSelector(clusterName: string): Record<string, string> {
  return { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": redisName(clusterName) };
}

export function redisServiceSpec(clusterName: string) {
  return {
    type: "ClusterIP",
    selector: redisSelector(clusterName),
    ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" }],
  };
}

export function redisStatefulSetSpec(input: RayRedisInput) {
  const d = RAY_DEFAULTS.redis;
  const resources = { cpu: d.cpu, memory: d.memory };
  return {
    serviceName: redisName(input.clusterName),
    replicas: 1,
    selector: { matchLabels: redisSelector(input.clusterName) },
    template: {
      metadata: { labels: { ...redisSelector(input.clusterName), [KIT_LABELS.tenant]: input.tenant, [KIT_LABELS.managedBy]: MANAGED_BY } },
      spec: {
        automountServiceAccountToken: false,
        securityContext: restrictedPodSecurity({ ...REDIS_IMAGE_USER, fsGroup: REDIS_IMAGE_USER.gid }),
        containers: [{
          name: "redis",
          image: imageRef(IMAGES.redis),
          // Kubernetes expands $(REDIS_PASSWORD) from the env below; no shell is involved.
          // The append-only file makes every write durable on the volume before Ray sees it acknowledged.
          args: ["redis-server", "--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--dir", "/data"],
          env: [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: input.passwordSecret.name, key: input.passwordSecret.key } } }],
          ports: [{ name: "redis", containerPort: REDIS_PORT, protocol: "TCP" }],
          readinessProbe: { tcpSocket: { port: "redis" }, periodSeconds: 5 },
          livenessProbe: { tcpSocket: { port: "redis" }, initialDelaySeconds: 15, periodSeconds: 10 },
          resources: { requests: { ...resources }, limits: { ...resources } },
          securityContext: restrictedContainerSecurity(),
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        }],
      },
    },
    volumeClaimTemplates: [{
      metadata: { name: "data" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: input.storage ?? d.storage } },
        ...(input.storageClassName ? { storageClassName: input.storageClassName } : {}),
      },
    }],
  };
}
