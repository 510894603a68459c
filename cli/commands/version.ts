/** `gpk version [--json]` (and `gpk --version`): the kit's version and the Node.js running it. */
import { ExitCode, parseFlags, printJson, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { kitVersion } from "../version";

export const command: Command = {
  usage: `Usage: gpk version [--json]   (also gpk --version)

Prints the kit's version (package.json) and the Node.js version running it.

  --json   print ${helpShape("version", "version", 11)}`,
  async run(argv) {
    const { values } = parseFlags(argv, { json: { type: "boolean", default: false } }, false);
    const version = kitVersion();
    if (values.json) printJson({ version, node: process.versions.node });
    else process.stdout.write(`gpk ${version} (Node.js ${process.versions.node})\n`);
    return ExitCode.Ok;
  },
};
