#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx gpk` needs no build step and
// always runs the code in this checkout.
require("tsx/cjs");
require("../cli/main.ts").runCli();
