/**
 * The simulated nvidia-smi inside allocated containers. The plugin's own bundle doubles as the
 * tool: the daemon installs a copy as `<tools dir>/nvidia-smi` (with a `node` shebang), Allocate
 * bind-mounts it at /usr/bin/nvidia-smi, and main.ts runs this when invoked under that name.
 * It answers from the node's state file (GPK_SIM_STATE, written by the plugin every tick),
 * showing the GPUs in NVIDIA_VISIBLE_DEVICES, through gpu-sim's nvidia-smi emulation.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { nodeFromEnv, SimConfigError } from "../gpu-sim";
import { runNvidiaSmi } from "../gpu-sim/smi/run";
import { SIM_SMI_FILE } from "./container-spec";

/** nvidia-smi(1) RETURN VALUE 9: "NVIDIA driver is not loaded" — what a missing state looks like. */
const DRIVER_NOT_LOADED = 9;

/** Whether this process was started as nvidia-smi (argv[1] is the script path). */
export function invokedAsNvidiaSmi(argv: readonly string[]): boolean {
  return path.basename(argv[1] ?? "") === SIM_SMI_FILE;
}

export function nvidiaSmiMain(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  let node;
  try {
    node = nodeFromEnv(env);
  } catch (err) {
    if (!(err instanceof SimConfigError)) throw err;
    process.stdout.write(
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver (simulated GPU state unreadable).\n",
    );
    process.stderr.write(`${err.message}\n`);
    return DRIVER_NOT_LOADED;
  }
  try {
    const result = runNvidiaSmi(argv.slice(2), { node, visibleDevices: env.NVIDIA_VISIBLE_DEVICES, now: new Date() });
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.exitCode;
  } catch (err) {
    if (!(err instanceof SimConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return DRIVER_NOT_LOADED;
  }
}

/**
 * Installs the running bundle as `<toolsDir>/nvidia-smi` (atomically, mode 0755). Only a
 * bundled `.js` can be copied; under tsx (tests, `gpk` from source) there is nothing to install.
 */
export function installNvidiaSmi(toolsDir: string, selfPath: string | undefined): string | undefined {
  if (!selfPath || !selfPath.endsWith(".js")) return undefined;
  const target = path.join(toolsDir, SIM_SMI_FILE);
  const code = fs.readFileSync(selfPath, "utf8").replace(/^#!.*\n/, "");
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `#!/usr/bin/env node\n${code}`, { mode: 0o755 });
  fs.renameSync(tmp, target);
  return target;
}
