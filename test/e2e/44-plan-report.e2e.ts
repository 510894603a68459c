/**
 * `gpk plan serving --html` opened in headless Chromium (Debian's, from `gpk tools system`): the
 * page renders its two echarts charts as SVG, with no script or console error, and a
 * screenshot of it is taken. The page keeps its own count of charts drawn and of errors in
 * <body data-charts data-errors> (cli/plan/html.ts); the DOM Chromium dumps after running the
 * scripts is read here.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runGpk } from "../cli/run-gpk";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-plan-report-"));
const CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1150,1500", `--user-data-dir=${path.join(dir, "profile")}`];

function chromium(args: string[]) {
  const r = spawnSync("chromium", [...CHROMIUM, ...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`chromium: ${r.error.message} (gpk tools system installs it)`);
  return r;
}

describe("the plan's HTML report in headless Chromium", () => {
  it("renders the rate–TTFT curves and the Pareto chart as SVG, with no error, and screenshots", () => {
    const page = path.join(dir, "plan.html");
    const plan = runGpk(["plan", "serving", "--workload", "chat", "--rate", "8", "--slo", "ttft-p99=800,tpot-p99=60", "--model", "llama-3-8b", "--gpus", "h100,l40s",
      "--tp", "1", "--engine-settings", "64:2048,256:4096", "--html", page]);
    expect(plan.status, plan.stderr).toBe(0);
    const html = fs.readFileSync(page, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=/); // self-contained: no script fetched
    const dom = chromium(["--virtual-time-budget=5000", "--dump-dom", `file://${page}`]);
    expect(dom.status, dom.stderr).toBe(0);
    const body = /<body[^>]*>/.exec(dom.stdout)![0];
    expect(body).toContain('data-errors=""');
    expect(body).toContain('data-charts="2"');
    for (const id of ["curves", "pareto"]) {
      const chart = new RegExp(`<div id="${id}"[^>]*>([\\s\\S]*?)</div>\\s*<h2>|<div id="${id}"[^>]*>([\\s\\S]*)$`).exec(dom.stdout);
      expect(chart, id).not.toBeNull();
      const inner = chart![1] ?? chart![2]!;
      expect(inner).toContain("<svg");
      expect((inner.match(/<path/g) ?? []).length).toBeGreaterThan(10);
    }
    const shot = path.join(dir, "plan.png");
    const r = chromium([`--screenshot=${shot}`, "--virtual-time-budget=5000", `file://${page}`]);
    expect(r.status, r.stderr).toBe(0);
    const png = fs.readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(30_000); // a page of charts, not a blank one
    // Chromium's own console log (headless prints page console messages at --enable-logging): no errors.
    const logged = chromium(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", `file://${page}`]);
    expect(logged.stderr.split("\n").filter((l) => /CONSOLE.*(error|Error)|Uncaught/.test(l))).toEqual([]);
  });
});
