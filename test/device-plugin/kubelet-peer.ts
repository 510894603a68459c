/**
 * The test's stand-in for kubelet: a real gRPC Registration server on a real kubelet.sock, and
 * a real DevicePlugin client dialing the plugin's socket — the two ends kubelet speaks.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  DevicePluginClient,
  KUBELET_SOCKET_NAME,
  RegistrationService,
  unixAddress,
  type ListAndWatchResponse,
  type RegisterRequest,
} from "../../runtime/device-plugin/proto";

export interface KubeletPeer {
  readonly registrations: RegisterRequest[];
  close(): Promise<void>;
}

/** Serves Registration on `<dir>/kubelet.sock` and records every RegisterRequest. */
export async function startKubelet(dir: string): Promise<KubeletPeer> {
  const registrations: RegisterRequest[] = [];
  const server = new grpc.Server();
  server.addService(RegistrationService, {
    Register: (call: grpc.ServerUnaryCall<RegisterRequest, object>, done: grpc.sendUnaryData<object>) => {
      registrations.push(call.request);
      done(null, {});
    },
  });
  const socket = path.join(dir, KUBELET_SOCKET_NAME);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(unixAddress(socket), grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return {
    registrations,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export function tempPluginDir(): string {
  // Short path: unix socket paths are limited to 107 bytes.
  return fs.mkdtempSync(path.join(os.tmpdir(), "gpk-dp-"));
}

/** A DevicePlugin client with promise-returning unary calls. */
export function dialPlugin(socketPath: string) {
  const client = new DevicePluginClient(unixAddress(socketPath), grpc.credentials.createInsecure());
  const unary =
    <Req, Res>(method: string) =>
    (request: Req): Promise<Res> =>
      new Promise((resolve, reject) =>
        (client as unknown as Record<string, Function>)[method](request, (err: grpc.ServiceError | null, res: Res) =>
          err ? reject(err) : resolve(res),
        ),
      );
  return {
    client,
    unary,
    /** Opens ListAndWatch and collects every response. */
    watch() {
      const responses: ListAndWatchResponse[] = [];
      const call = client.ListAndWatch({}) as grpc.ClientReadableStream<ListAndWatchResponse>;
      call.on("data", (r: ListAndWatchResponse) => responses.push(r));
      call.on("error", () => {}); // cancelled on close
      return { responses, cancel: () => call.cancel() };
    },
    close: () => client.close(),
  };
}

/** Polls `predicate` until true; fails with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
