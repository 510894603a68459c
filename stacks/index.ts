// Entry of `pulumi up` (Pulumi.yaml `main`). The program itself lives in ./program.ts.
import { deployPlatform } from "./program";

const { outputs } = deployPlatform();

export const summary = outputs.summary;
