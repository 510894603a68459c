/**
 * How the binaries runtime tells whether a process it started still runs (processes.ts
 * isRunning): a live process running the command is; one running another command (a recycled
 * pid) is not; an exited one that nobody has reaped yet (a zombie) is not.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { isRunning } from "../../cli/local/binaries/processes";

const parents: number[] = [];
afterEach(() => {
  for (const pid of parents.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

const state = (pid: number) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0];
};

describe("isRunning", () => {
  it("is true for a live process of the command, false for another command and for a zombie", async () => {
    // The shell starts a short sleep in the background, prints its pid and becomes a long sleep,
    // which never reaps the short one: once it exits, it stays a zombie.
    const parent = spawn("sh", ["-c", "sleep 2 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
    parents.push(parent.pid!);
    const child = await new Promise<number>((resolve) => parent.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
    // The pid is printed by the shell right after it forks; on a busy machine the child may not
    // have exec'd `sleep` yet (its cmdline is still the shell's), so wait for that first.
    const execed = Date.now() + 5_000;
    while (fs.readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0")[0] !== "sleep" && Date.now() < execed) await new Promise((r) => setTimeout(r, 20));
    expect(isRunning(child, "sleep")).toBe(true);
    expect(isRunning(child, "/usr/bin/not-sleep")).toBe(false);
    const deadline = Date.now() + 10_000;
    while (state(child) !== "Z" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(state(child)).toBe("Z");
    expect(isRunning(child, "sleep")).toBe(false);
    expect(isRunning(parent.pid!, "sleep")).toBe(true);
  });
});
