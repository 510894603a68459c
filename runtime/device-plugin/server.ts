/**
 * The kubelet-facing half of the device plugin: serves the v1beta1 DevicePlugin service on its
 * own unix socket in the device-plugins directory, registers with kubelet, and starts over when
 * kubelet restarts. Everything about GPUs comes from a `ResourceManager`; the allocation choice
 * is the pure `preferredAllocation`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { GPU_RESOURCE } from "../../gpu";
import { containerAllocateResponse, type ContainerTools } from "./container-spec";
import { fileIdentity, watchPluginDir, type FileIdentity } from "./kubelet-watch";
import { AllocationRequestError, preferredAllocation, type Candidate } from "./preferred-allocation";
import {
  API_VERSION,
  DEFAULT_DEVICE_PLUGIN_DIR,
  DevicePluginService,
  Health,
  KUBELET_SOCKET_NAME,
  RegistrationClient,
  unixAddress,
  type AllocateRequest,
  type AllocateResponse,
  type ContainerPreferredAllocationRequest,
  type DevicePluginOptions,
  type Empty,
  type ListAndWatchResponse,
  type PreStartContainerRequest,
  type PreStartContainerResponse,
  type PreferredAllocationRequest,
  type PreferredAllocationResponse,
  type RegisterRequest,
} from "./proto";
import { advertisedDevices, uniqueUuids, type AdvertisedDevice } from "./replicas";
import type { ResourceManager } from "./resource-manager";

/**
 * GPU UUIDs a scheduler already chose for the container being admitted (see
 * docs/device-plugin.md: kubelet's request names no pod, so a hint source must find the pod).
 */
export type AllocationHints = (
  request: ContainerPreferredAllocationRequest,
  /** The request's available devices, resolved to their GPUs. */
  available: readonly Candidate[],
) => Promise<readonly string[] | undefined>;

export interface DevicePluginServerOptions {
  resources: ResourceManager;
  /** Device-plugins directory holding kubelet.sock and our socket. Default /var/lib/kubelet/device-plugins. */
  pluginDir?: string;
  /** Our socket's file name (the `endpoint` we register). Default `gpk-nvidia-gpu.sock`. */
  socketName?: string;
  /** Extended resource we advertise. Default `nvidia.com/gpu`. */
  resourceName?: string;
  /** Time-slicing replicas per GPU. Default 1 (no sharing). */
  replicas?: number;
  /** What Allocate mounts for the simulated nvidia-smi. Default: nothing. */
  containerTools?: ContainerTools;
  hints?: AllocationHints;
  /** Poll period of the kubelet-restart watch (fs.watch covers the common case). Default 1000. */
  pollIntervalMs?: number;
  /** Deadline of one Register call. Default 5000. */
  registerTimeoutMs?: number;
  log?: (message: string) => void;
}

export const DEFAULT_SOCKET_NAME = "gpk-nvidia-gpu.sock";

export class DevicePluginServer {
  readonly pluginDir: string;
  readonly socketPath: string;
  readonly kubeletSocketPath: string;
  private readonly opts: Required<Omit<DevicePluginServerOptions, "hints" | "pluginDir">> & {
    hints?: AllocationHints;
  };
  private server: grpc.Server | undefined;
  private servingIdentity: FileIdentity | undefined;
  private registeredWith: FileIdentity | undefined;
  private registerFailureLogged = false;
  private readonly streams = new Set<grpc.ServerWritableStream<Empty, ListAndWatchResponse>>();
  private unsubscribe: (() => void) | undefined;
  private stopWatch: (() => void) | undefined;
  private reconcileChain: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private stopped = false;

  constructor(options: DevicePluginServerOptions) {
    this.pluginDir = options.pluginDir ?? DEFAULT_DEVICE_PLUGIN_DIR;
    this.opts = {
      resources: options.resources,
      socketName: options.socketName ?? DEFAULT_SOCKET_NAME,
      resourceName: options.resourceName ?? GPU_RESOURCE,
      replicas: options.replicas ?? 1,
      containerTools: options.containerTools ?? {},
      hints: options.hints,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      registerTimeoutMs: options.registerTimeoutMs ?? 5000,
      log: options.log ?? (() => {}),
    };
    if (this.opts.socketName.includes("/")) throw new Error(`socketName must be a file name, got ${this.opts.socketName}`);
    advertisedDevices([], this.opts.replicas); // validates replicas up front
    this.socketPath = path.join(this.pluginDir, this.opts.socketName);
    this.kubeletSocketPath = path.join(this.pluginDir, KUBELET_SOCKET_NAME);
  }

  /** Serves on our socket, registers if kubelet is there, and watches for kubelet restarts. */
  async start(): Promise<void> {
    await this.serve();
    this.unsubscribe = this.opts.resources.subscribe(() => this.broadcast());
    await this.reconcile();
    this.stopWatch = watchPluginDir({
      dir: this.pluginDir,
      pollIntervalMs: this.opts.pollIntervalMs,
      onTick: () => void this.reconcile(),
    });
  }

  /** Ends watch streams, stops serving and removes our socket. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    this.unsubscribe?.();
    await this.reconcileChain;
    await this.shutdownServer();
    if (this.servingIdentity && fileIdentity(this.socketPath) === this.servingIdentity) fs.rmSync(this.socketPath, { force: true });
  }

  /** The current device list as ListAndWatch sends it. */
  deviceList(): ListAndWatchResponse {
    return {
      devices: this.devices().map((d) => ({
        ID: d.id,
        health: d.gpu.healthy ? Health.Healthy : Health.Unhealthy,
        topology: { nodes: [{ ID: d.gpu.numaNode }] },
      })),
    };
  }

  private devices(): AdvertisedDevice[] {
    return advertisedDevices(this.opts.resources.gpus(), this.opts.replicas);
  }

  /**
   * Brings the world in line: our socket must be the one we serve on (kubelet deletes it when
   * it restarts), and the kubelet.sock we registered with must be the current one. Calls are
   * serialized and coalesced, so a burst of fs events costs one pass.
   */
  private reconcile(): Promise<void> {
    if (this.reconcileQueued) return this.reconcileChain;
    this.reconcileQueued = true;
    this.reconcileChain = this.reconcileChain.then(async () => {
      this.reconcileQueued = false;
      if (this.stopped) return;
      try {
        await this.reconcileOnce();
      } catch (err) {
        this.opts.log(`device-plugin: ${(err as Error).message}`);
      }
    });
    return this.reconcileChain;
  }

  private async reconcileOnce(): Promise<void> {
    if (fileIdentity(this.socketPath) !== this.servingIdentity) {
      this.opts.log(`device-plugin: socket ${this.socketPath} is gone; serving again`);
      await this.shutdownServer();
      await this.serve();
      this.registeredWith = undefined;
    }
    const kubelet = fileIdentity(this.kubeletSocketPath);
    if (kubelet === undefined || kubelet === this.registeredWith) return;
    try {
      await this.register();
      this.registeredWith = kubelet;
      this.registerFailureLogged = false;
      this.opts.log(`device-plugin: registered ${this.opts.resourceName} with kubelet as ${this.opts.socketName}`);
    } catch (err) {
      // kubelet.sock may exist before kubelet listens on it; the next tick retries.
      if (!this.registerFailureLogged) this.opts.log(`device-plugin: register failed: ${(err as Error).message}`);
      this.registerFailureLogged = true;
    }
  }

  private register(): Promise<void> {
    const client = new RegistrationClient(unixAddress(this.kubeletSocketPath), grpc.credentials.createInsecure());
    const request: RegisterRequest = {
      version: API_VERSION,
      endpoint: this.opts.socketName,
      resource_name: this.opts.resourceName,
      options: { pre_start_required: false, get_preferred_allocation_available: true },
    };
    return new Promise<void>((resolve, reject) => {
      const deadline = new Date(Date.now() + this.opts.registerTimeoutMs);
      client.Register(request, { deadline }, (err: grpc.ServiceError | null) => {
        client.close();
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private async serve(): Promise<void> {
    fs.mkdirSync(this.pluginDir, { recursive: true });
    fs.rmSync(this.socketPath, { force: true }); // a stale socket from a previous run blocks bind
    const server = new grpc.Server();
    server.addService(DevicePluginService, this.handlers());
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixAddress(this.socketPath), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
    this.servingIdentity = fileIdentity(this.socketPath);
  }

  private async shutdownServer(): Promise<void> {
    for (const call of this.streams) call.end();
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }

  private broadcast(): void {
    const list = this.deviceList();
    for (const call of this.streams) call.write(list);
  }

  private handlers(): grpc.UntypedServiceImplementation {
    return {
      GetDevicePluginOptions: (_call: grpc.ServerUnaryCall<Empty, DevicePluginOptions>, done: grpc.sendUnaryData<DevicePluginOptions>) =>
        done(null, { pre_start_required: false, get_preferred_allocation_available: true }),

      ListAndWatch: (call: grpc.ServerWritableStream<Empty, ListAndWatchResponse>) => {
        this.streams.add(call);
        const forget = () => this.streams.delete(call);
        call.on("cancelled", forget);
        call.on("close", forget);
        call.on("error", forget);
        call.write(this.deviceList());
      },

      GetPreferredAllocation: (
        call: grpc.ServerUnaryCall<PreferredAllocationRequest, PreferredAllocationResponse>,
        done: grpc.sendUnaryData<PreferredAllocationResponse>,
      ) => {
        this.preferred(call.request).then(
          (response) => done(null, response),
          (err: Error) => done(asStatus(err)),
        );
      },

      Allocate: (call: grpc.ServerUnaryCall<AllocateRequest, AllocateResponse>, done: grpc.sendUnaryData<AllocateResponse>) => {
        try {
          done(null, this.allocate(call.request));
        } catch (err) {
          done(asStatus(err as Error));
        }
      },

      PreStartContainer: (
        _call: grpc.ServerUnaryCall<PreStartContainerRequest, PreStartContainerResponse>,
        done: grpc.sendUnaryData<PreStartContainerResponse>,
      ) => done(null, {}),
    };
  }

  private async preferred(request: PreferredAllocationRequest): Promise<PreferredAllocationResponse> {
    const byId = new Map(this.devices().map((d) => [d.id, d]));
    const resolve = (ids: readonly string[], field: string): Candidate[] =>
      ids.map((id) => {
        const d = byId.get(id);
        if (!d) throw new AllocationRequestError(`${field}: unknown device ID ${JSON.stringify(id)}`);
        return { id, uuid: d.gpu.uuid, gpuIndex: d.gpu.index, numaNode: d.gpu.numaNode };
      });
    const container_responses = [];
    for (const req of request.container_requests) {
      const available = resolve(req.available_deviceIDs, "available_deviceIDs");
      const preferUuids = await this.hintsFor(req, available);
      const deviceIDs = preferredAllocation({
        available,
        mustInclude: resolve(req.must_include_deviceIDs, "must_include_deviceIDs"),
        size: req.allocation_size,
        preferUuids,
      });
      container_responses.push({ deviceIDs });
    }
    return { container_responses };
  }

  /** A failing hint source must not fail the RPC: the NUMA rule answers alone then. */
  private async hintsFor(req: ContainerPreferredAllocationRequest, available: Candidate[]): Promise<readonly string[] | undefined> {
    if (!this.opts.hints) return undefined;
    try {
      return await this.opts.hints(req, available);
    } catch (err) {
      this.opts.log(`device-plugin: hint source failed, using the NUMA rule: ${(err as Error).message}`);
      return undefined;
    }
  }

  private allocate(request: AllocateRequest): AllocateResponse {
    const known = new Set(this.devices().map((d) => d.id));
    return {
      container_responses: request.container_requests.map((req) => {
        const unknown = req.devices_ids.filter((id) => !known.has(id));
        if (unknown.length > 0) throw new AllocationRequestError(`devices_ids: unknown device IDs ${unknown.join(", ")}`);
        return containerAllocateResponse(uniqueUuids(req.devices_ids), this.opts.containerTools);
      }),
    };
  }
}

function asStatus(err: Error): Partial<grpc.StatusObject> {
  const code = err instanceof AllocationRequestError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
  return { code, details: err.message };
}
