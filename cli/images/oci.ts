/**
 * OCI image archives written from a folder, without a container engine or a registry: one
 * uncompressed layer (a reproducible tar of the folder), an image config, a manifest and an
 * index in the OCI image-layout format (opencontainers/image-spec v1.1: image-layout.md,
 * manifest.md, config.md). `ctr images import` loads such an archive into containerd, which
 * names the image from the index's `io.containerd.image.name` annotation.
 *
 * Written by hand rather than with a library: no maintained npm package writes image layouts,
 * and the format is three small JSON documents around a tar that GNU tar makes reproducibly.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
} as const;

/** The parts of an image config (config.md's `config` object) the kit's images set. */
export interface ImageRunConfig {
  /** Numeric `uid:gid`, so the kubelet can check `runAsNonRoot` against it. */
  User: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
}

export interface BuiltImage {
  /** `repository:tag`, the name containerd gives the imported image. */
  name: string;
  /** sha256 of the manifest: what a pod spec pins. */
  digest: string;
  /** `repository:tag@sha256:…`, as pod specs reference it. */
  ref: string;
  /** The OCI archive `ctr images import` takes. */
  archive: string;
}

export class ImageBuildError extends Error {
  override readonly name = "ImageBuildError";
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function sha256File(file: string): string {
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const chunk = Buffer.alloc(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0) hash.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return `sha256:${hash.digest("hex")}`;
}

/** GNU tar with every source of variation pinned: the same folder gives the same bytes. */
function reproducibleTar(sourceDir: string, out: string): void {
  const r = spawnSync("tar", [
    "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    "-cf", out, "-C", sourceDir, ".",
  ], { encoding: "utf8" });
  if (r.status !== 0) throw new ImageBuildError(`tar of ${sourceDir} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
}

/** The image name a repository and tag make, checked the way a reference parser would. */
export function imageName(repository: string, tag: string): string {
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/.test(repository)) throw new ImageBuildError(`image repository ${JSON.stringify(repository)}: expected lower-case path components`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new ImageBuildError(`image tag ${JSON.stringify(tag)}: expected [A-Za-z0-9_.-], at most 128`);
  return `${repository}:${tag}`;
}

/**
 * Writes `<outDir>/image.tar`, an OCI archive of `rootfs` as one layer with `run` as its
 * config, named `repository:tag`. Same rootfs and config, same digest.
 */
export function writeOciArchive(rootfs: string, repository: string, tag: string, run: ImageRunConfig, outDir: string): BuiltImage {
  const name = imageName(repository, tag);
  const layout = path.join(outDir, "layout");
  fs.rmSync(layout, { recursive: true, force: true });
  const blobs = path.join(layout, "blobs", "sha256");
  fs.mkdirSync(blobs, { recursive: true });
  const layerTmp = path.join(layout, "layer.tar");
  reproducibleTar(rootfs, layerTmp);
  const layerDigest = sha256File(layerTmp);
  const layerSize = fs.statSync(layerTmp).size;
  fs.renameSync(layerTmp, path.join(blobs, layerDigest.slice(7)));
  const writeBlob = (doc: object): { digest: string; size: number } => {
    const bytes = Buffer.from(JSON.stringify(doc));
    const digest = sha256(bytes);
    fs.writeFileSync(path.join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  // An uncompressed layer's diff ID is its own digest.
  const config = writeBlob({ architecture: "amd64", os: "linux", config: run, rootfs: { type: "layers", diff_ids: [layerDigest] } });
  const manifest = writeBlob({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, ...config },
    layers: [{ mediaType: MEDIA.layer, digest: layerDigest, size: layerSize }],
  });
  fs.writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  fs.writeFileSync(path.join(layout, "index.json"), JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    // The manifest twice: under its tag, and under its digest, the name CRI looks up for a pod
    // that pins `repository:tag@sha256:…` (it drops the tag of a digested reference).
    manifests: [name, `${repository}@${manifest.digest}`].map((imageName) => ({
      mediaType: MEDIA.manifest,
      ...manifest,
      platform: { architecture: "amd64", os: "linux" },
      annotations: { "io.containerd.image.name": imageName, "org.opencontainers.image.ref.name": tag },
    })),
  }));
  const archive = path.join(outDir, "image.tar");
  reproducibleTar(layout, archive);
  fs.rmSync(layout, { recursive: true, force: true });
  return { name, digest: manifest.digest, ref: `${name}@${manifest.digest}`, archive };
}
