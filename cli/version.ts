/** The kit's version, one home: package.json's `version` (also the runtime image's tag). */
import * as fs from "node:fs";
import * as path from "node:path";

export function kitVersion(): string {
  return (JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "package.json"), "utf8")) as { version: string }).version;
}
