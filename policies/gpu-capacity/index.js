// Entry the Pulumi engine runs (package.json "main"). Its policy-pack runner would load
// TypeScript through a vendored ts-node; the kit loads it through tsx instead, the same
// loader `gpk` and the stack program use, so the pack needs no build step.
require("tsx/cjs");
require("./index.ts");
