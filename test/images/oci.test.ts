import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ImageBuildError, imageName, writeOciArchive } from "../../cli/images/oci";
import { sharedLibraries } from "../../cli/images/kit-images";

function rootfs(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-rootfs-"));
  fs.mkdirSync(path.join(dir, "opt", "gpk"), { recursive: true });
  fs.writeFileSync(path.join(dir, "opt", "gpk", "a.js"), "console.log(1)\n");
  fs.writeFileSync(path.join(dir, "run"), "#!/bin/sh\n", { mode: 0o755 });
  return dir;
}

function untar(archive: string): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-oci-"));
  expect(spawnSync("tar", ["-xf", archive, "-C", out]).status).toBe(0);
  return out;
}

const blob = (layout: string, digest: string) => fs.readFileSync(path.join(layout, "blobs", "sha256", digest.replace(/^sha256:/, "")));
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("OCI image archives", () => {
  it("are content-addressed: index → manifest → config and layer, each blob named by its digest", () => {
    const built = writeOciArchive(rootfs(), "gpk.local/test", "1.0", { User: "1000:1000", Entrypoint: ["/run"] }, fs.mkdtempSync(path.join(os.tmpdir(), "gpk-out-")));
    expect(built.name).toBe("gpk.local/test:1.0");
    expect(built.ref).toBe(`gpk.local/test:1.0@${built.digest}`);
    const layout = untar(built.archive);
    expect(JSON.parse(fs.readFileSync(path.join(layout, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(fs.readFileSync(path.join(layout, "index.json"), "utf8"));
    // Named twice, so that CRI finds a pod's `repository:tag@digest` reference without a registry.
    expect(index.manifests.map((m: any) => m.digest)).toEqual([built.digest, built.digest]);
    expect(index.manifests.map((m: any) => m.annotations["io.containerd.image.name"])).toEqual(["gpk.local/test:1.0", `gpk.local/test@${built.digest}`]);
    const manifestBytes = blob(layout, built.digest);
    expect(sha(manifestBytes)).toBe(built.digest);
    const manifest = JSON.parse(manifestBytes.toString());
    const config = JSON.parse(blob(layout, manifest.config.digest).toString());
    expect(config.config).toEqual({ User: "1000:1000", Entrypoint: ["/run"] });
    const layer = blob(layout, manifest.layers[0].digest);
    expect(sha(layer)).toBe(manifest.layers[0].digest);
    expect(manifest.layers[0].size).toBe(layer.length);
    // An uncompressed layer's diff ID is its digest.
    expect(config.rootfs.diff_ids).toEqual([manifest.layers[0].digest]);
    const files = spawnSync("tar", ["-tvf", path.join(layout, "blobs", "sha256", manifest.layers[0].digest.slice(7))], { encoding: "utf8" }).stdout;
    expect(files).toMatch(/-rwxr-xr-x 0\/0 .* \.\/run/);
    expect(files).toContain("./opt/gpk/a.js");
  });

  it("are reproducible: the same folder gives the same digest, a changed file another", () => {
    const dir = rootfs();
    const once = writeOciArchive(dir, "gpk.local/test", "1.0", { User: "1000:1000" }, fs.mkdtempSync(path.join(os.tmpdir(), "gpk-out-")));
    fs.utimesSync(path.join(dir, "run"), new Date(), new Date(2001, 1, 1));
    const again = writeOciArchive(dir, "gpk.local/test", "1.0", { User: "1000:1000" }, fs.mkdtempSync(path.join(os.tmpdir(), "gpk-out-")));
    expect(again.digest).toBe(once.digest);
    fs.writeFileSync(path.join(dir, "opt", "gpk", "a.js"), "console.log(2)\n");
    const changed = writeOciArchive(dir, "gpk.local/test", "1.0", { User: "1000:1000" }, fs.mkdtempSync(path.join(os.tmpdir(), "gpk-out-")));
    expect(changed.digest).not.toBe(once.digest);
  });

  it("refuse a name no reference parser would take", () => {
    expect(() => imageName("Gpk.local/Test", "1")).toThrow(ImageBuildError);
    expect(() => imageName("gpk.local/test", "bad tag")).toThrow('image tag "bad tag": expected [A-Za-z0-9_.-], at most 128');
    expect(imageName("gpk.local/gpk-runtime", "0.1.0")).toBe("gpk.local/gpk-runtime:0.1.0");
  });

  it("copy the libraries ldd names, the loader included", () => {
    const ldd = [
      "\tlinux-vdso.so.1 (0x00007ffd)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)",
    ].join("\n");
    expect(sharedLibraries(ldd)).toEqual(["/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib64/ld-linux-x86-64.so.2"]);
  });
});
