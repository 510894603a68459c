/**
 * The images real local nodes run, built on this machine (no registry is reachable from it):
 * - `gpk.local/gpk-runtime`: a Node.js runtime and every runtime bundle at /opt/gpk/<pkg>.js,
 *   run as the numeric user the kit's restricted pods name (NODE_IMAGE_UID);
 * - `gpk.local/pause`: the pod sandbox, from the pinned Kubernetes module's build/pause/linux/
 *   pause.c, compiled static the way upstream's Makefile does (-Os -static, USER 65535:65535).
 * Each is an OCI archive (oci.ts) that a node's containerd imports; pods pin them by digest.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NODE_IMAGE_UID, RUNTIME_DIR, bundleRuntime } from "../../components/runtime-bundle";
import { toolsCacheRoot } from "../tools/resolve";
import type { KubernetesPin } from "../tools/recipes";
import { ImageBuildError, writeOciArchive, type BuiltImage } from "./oci";

/** The runtime image's tag is the kit's version. */
export { kitVersion } from "../version";

/** The repository prefix of images built here: never a registry anyone can pull from. */
export const LOCAL_IMAGE_PREFIX = "gpk.local";
const ENV_BINARY = "/usr/bin/env";
/** Runtime packages with a main.ts: each becomes /opt/gpk/<pkg>.js in the runtime image. */
const RUNTIME_ROOT = path.resolve(__dirname, "..", "..", "runtime");

export interface KitImages {
  runtime: BuiltImage;
  pause: BuiltImage;
}


export function imagesCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(toolsCacheRoot(env), "images");
}

function run(command: string, args: string[], what: string, cwd?: string): string {
  const r = spawnSync(command, args, { encoding: "utf8", cwd });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") throw new ImageBuildError(`${what}: ${command} is not installed`);
  if (r.status !== 0) throw new ImageBuildError(`${what}: ${command} ${args.join(" ")} exited ${r.status}: ${(r.stderr || "").trim().split("\n").slice(-3).join(" | ")}`);
  return r.stdout;
}

/** The shared libraries an executable loads (ldd), as absolute paths. */
export function sharedLibraries(lddOutput: string): string[] {
  const libs = new Set<string>();
  for (const line of lddOutput.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

function copyInto(rootfs: string, file: string, as = file): void {
  const dest = path.join(rootfs, as);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(fs.realpathSync(file), dest);
  fs.chmodSync(dest, fs.statSync(file).mode & 0o777);
}

/** The passwd and group a non-root image needs so tools can name its user. */
function writeUsers(rootfs: string, uid: number): void {
  fs.mkdirSync(path.join(rootfs, "etc"), { recursive: true });
  fs.writeFileSync(path.join(rootfs, "etc", "passwd"), `root:x:0:0:root:/root:/sbin/nologin\ngpk:x:${uid}:${uid}:gpk:/home/gpk:/sbin/nologin\n`);
  fs.writeFileSync(path.join(rootfs, "etc", "group"), `root:x:0:\ngpk:x:${uid}:\n`);
}

function freshDir(dir: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The runtime image: this machine's `node` with its libraries, and every runtime bundle. */
export function buildRuntimeImage(version: string, env: NodeJS.ProcessEnv = process.env, nodeBinary = process.execPath): BuiltImage {
  const outDir = path.join(imagesCacheRoot(env), "gpk-runtime");
  const rootfs = freshDir(path.join(outDir, "rootfs"));
  copyInto(rootfs, nodeBinary, "/usr/local/bin/node");
  // The simulated nvidia-smi the device plugin mounts into GPU containers starts `#!/usr/bin/env node`.
  copyInto(rootfs, ENV_BINARY);
  for (const exe of [nodeBinary, ENV_BINARY]) for (const lib of sharedLibraries(run("ldd", [exe], "runtime image"))) copyInto(rootfs, lib);
  const packages = fs.readdirSync(RUNTIME_ROOT).filter((pkg) => fs.existsSync(path.join(RUNTIME_ROOT, pkg, "main.ts"))).sort();
  for (const pkg of packages) {
    const bundle = bundleRuntime(pkg);
    const dest = path.join(rootfs, RUNTIME_DIR, bundle.fileName);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, bundle.code, { mode: 0o644 });
  }
  writeUsers(rootfs, NODE_IMAGE_UID);
  fs.mkdirSync(path.join(rootfs, "tmp"), { mode: 0o1777 });
  fs.chmodSync(path.join(rootfs, "tmp"), 0o1777);
  const image = writeOciArchive(rootfs, `${LOCAL_IMAGE_PREFIX}/gpk-runtime`, version, {
    User: `${NODE_IMAGE_UID}:${NODE_IMAGE_UID}`,
    Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production"],
    WorkingDir: RUNTIME_DIR,
  }, outDir);
  fs.rmSync(rootfs, { recursive: true, force: true });
  return image;
}

/** pause.c's folder inside the pinned k8s.io/kubernetes module (downloaded through the Go proxy). */
function pauseSource(pin: KubernetesPin): { file: string; tag: string } {
  const info = JSON.parse(run("go", ["mod", "download", "-json", `${pin.module}@${pin.version}`], "pause image", os.tmpdir())) as { Dir?: string };
  if (!info.Dir) throw new ImageBuildError(`pause image: the Go proxy gave no folder for ${pin.module}@${pin.version}`);
  const dir = path.join(info.Dir, "build", "pause");
  const tag = /^TAG \?= (\S+)$/m.exec(fs.readFileSync(path.join(dir, "Makefile"), "utf8"))?.[1];
  if (!tag) throw new ImageBuildError(`pause image: ${dir}/Makefile names no TAG`);
  return { file: path.join(dir, "linux", "pause.c"), tag };
}

/** The pod sandbox image, from the pinned module's pause.c (upstream: -Os -Wall -Werror -static). */
export function buildPauseImage(pin: KubernetesPin, env: NodeJS.ProcessEnv = process.env): BuiltImage {
  const { file, tag } = pauseSource(pin);
  const outDir = path.join(imagesCacheRoot(env), "pause");
  const rootfs = freshDir(path.join(outDir, "rootfs"));
  const binary = path.join(rootfs, "pause");
  run("gcc", ["-Os", "-Wall", "-Werror", "-static", `-DVERSION=v${tag}-${pin.version}`, "-o", binary, file], "pause image (needs gcc and the static C library, Debian's build-essential)");
  run("strip", [binary], "pause image");
  const image = writeOciArchive(rootfs, `${LOCAL_IMAGE_PREFIX}/pause`, tag, { User: "65535:65535", Entrypoint: ["/pause"] }, outDir);
  fs.rmSync(rootfs, { recursive: true, force: true });
  return image;
}
