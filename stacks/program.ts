/**
 * The Pulumi program, as a function: `stacks/index.ts` calls it under `pulumi up`, and
 * `gpk preview`/`gpk check` call the very same function under Pulumi's mock runtime.
 */
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../components/platform";
import { loadStackConfig } from "./load-config";

export function deployPlatform(): { platform: Platform; outputs: Record<string, unknown> } {
  const config = loadStackConfig();
  const platform = new Platform("gpk", { stack: pulumi.getStack(), config });
  return { platform, outputs: { summary: platform.summary } };
}
