import { describe, expect, it } from "vitest";
import { MANIFEST_FORMAT, checkpointPrefixes, checkpointReport, latest, parseManifest, type StoredObject } from "../../cli/checkpoints/manifest";

const at = (key: string, size = 1, t = 0): StoredObject => ({ key, size, lastModified: new Date(Date.UTC(2026, 10, 27, 0, 0, t)) });

describe("checkpoint manifest convention", () => {
  it("finds folders with a manifest and Ray checkpoint_* folders, never a run-level file, and nests nothing", () => {
    const objects = [
      at("run/checkpoint_000001/model.pt"),
      at("run/checkpoint_000001/_gpk_manifest.json"),
      at("run/checkpoint_000001/checkpoint_inner/x"), // inside a checkpoint: part of it
      at("run/checkpoint_2026-11-27_00-00-00.000000/model.pt"), // Ray Train V2 naming, no manifest
      at("run/checkpoint_manager_snapshot.json"),
      at("other/final/_gpk_manifest.json"),
      at("other/final/weights.bin"),
    ];
    expect(checkpointPrefixes(objects)).toEqual(["other/final/", "run/checkpoint_000001/", "run/checkpoint_2026-11-27_00-00-00.000000/"]);
  });

  it("names the first bad field of a manifest", () => {
    expect(() => parseManifest("{")).toThrow(/^not JSON/);
    expect(() => parseManifest(JSON.stringify({ format: "v0", files: [] }))).toThrow(`format: expected "${MANIFEST_FORMAT}", got "v0"`);
    expect(() => parseManifest(JSON.stringify({ format: MANIFEST_FORMAT, files: [{ path: "../x", size: 1, sha256: "a".repeat(64) }] }))).toThrow("files[0].path: expected a relative path");
    expect(() => parseManifest(JSON.stringify({ format: MANIFEST_FORMAT, files: [{ path: "x", size: -1, sha256: "a".repeat(64) }] }))).toThrow("files[0].size: expected a byte count");
    expect(() => parseManifest(JSON.stringify({ format: MANIFEST_FORMAT, files: [{ path: "x", size: 1, sha256: "A1" }] }))).toThrow("files[0].sha256: expected 64 hex digits");
  });

  it("reports sizes, checksums and open uploads, and picks the checkpoint written last", () => {
    const objects = [at("c1/a", 3, 1), at("c1/_gpk_manifest.json", 10, 2), at("c2/a", 3, 5)];
    const manifest = JSON.stringify({ format: MANIFEST_FORMAT, files: [{ path: "a", size: 3, sha256: "b".repeat(64) }, { path: "b", size: 2, sha256: "c".repeat(64) }] });
    const report = checkpointReport("c1/", objects, manifest, new Map([["c1/a", "d".repeat(64)]]), ["c1/b", "c2/zz"]);
    expect(report).toMatchObject({ state: "torn", files: 1, bytes: 3, lastModified: "2026-11-27T00:00:02.000Z" });
    expect(report.problems).toEqual(["a: SHA-256 dddddddddddd…, manifest says bbbbbbbbbbbb…", "b: missing", "b: upload started and never completed"]);
    const c2 = checkpointReport("c2/", objects, undefined, new Map());
    expect(c2.state).toBe("missing-manifest");
    expect(latest([report, c2])!.prefix).toBe("c2/");
    expect(latest([])).toBeUndefined();
  });
});
