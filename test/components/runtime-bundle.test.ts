import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { builtinModules } from "node:module";
import { describe, expect, it } from "vitest";
import { CONFIGMAP_LIMIT_BYTES, assertFitsConfigMap, bundleRuntime } from "../../components/runtime-bundle";

function tempRuntime(source: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-bundle-"));
  fs.mkdirSync(path.join(root, "runtime", "probe"), { recursive: true });
  fs.writeFileSync(path.join(root, "runtime", "probe", "main.ts"), source);
  return root;
}

describe("runtime bundles", () => {
  it("bundles a real runtime entry into one self-contained file that fits a ConfigMap", () => {
    const bundle = bundleRuntime("device-plugin");
    expect(bundle.fileName).toBe("device-plugin.js");
    expect(bundle.sha256).toBe(createHash("sha256").update(bundle.code).digest("hex"));
    expect(bundle.bytes).toBe(Buffer.byteLength(bundle.code));
    expect(bundle.bytes).toBeLessThan(CONFIGMAP_LIMIT_BYTES);
    // Only Node built-ins may remain as requires: everything else is inlined.
    const required = [...bundle.code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!.replace(/^node:/, ""));
    expect(required.length).toBeGreaterThan(0);
    for (const name of required) expect(builtinModules, name).toContain(name.split("/")[0]);
  });

  it("gives a changed runtime a new hash, and the same source the same hash", () => {
    const a = bundleRuntime("probe", tempRuntime('console.log("v1");\n'));
    const b = bundleRuntime("probe", tempRuntime('console.log("v2");\n'));
    const a2 = bundleRuntime("probe", tempRuntime('console.log("v1");\n'));
    expect(a.sha256).not.toBe(b.sha256);
    expect(a2.sha256).toBe(a.sha256);
  });

  it("bundles code that runs under plain node", () => {
    const root = tempRuntime('import { sep } from "node:path";\nprocess.stdout.write(`ok${sep}`);\n');
    const bundle = bundleRuntime("probe", root);
    const file = path.join(root, "out.js");
    fs.writeFileSync(file, bundle.code);
    const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
    expect(execFileSync(process.execPath, [file]).toString()).toBe("ok/");
  });

  it("refuses a bundle over the ConfigMap limit and says how to ship it instead", () => {
    const big = { pkg: "serving", fileName: "serving.js", code: "", bytes: 2 * 1024 * 1024, sha256: "0".repeat(64), inputs: [] };
    expect(() => assertFitsConfigMap(big)).toThrow(/`serving` is 2048 KiB, over the 1008 KiB a ConfigMap can hold; set `gpk:runtime.image`/);
  });
});
