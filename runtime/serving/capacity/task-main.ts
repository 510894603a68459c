/**
 * The capacity search as a command, for workers that run the kit's simulator out of process
 * (a Ray task runs `node <bundle> <tasks.json>`): reads a JSON array of CapacityTask from the
 * file named by its argument (or stdin) and prints the JSON array of their results.
 */
import { readFileSync } from "node:fs";
import { evaluateTask, type CapacityTask } from "./search";

const source = process.argv[2];
const tasks = JSON.parse(readFileSync(source === undefined || source === "-" ? 0 : source, "utf8")) as CapacityTask[];
process.stdout.write(`${JSON.stringify(tasks.map(evaluateTask))}\n`);
