"""Drivers the real-Ray e2e tests run against a local Ray cluster started with KubeRay's
arguments (test/e2e/ray-local.ts). Each subcommand connects through RAY_ADDRESS (and the
token in RAY_AUTH_TOKEN), does one thing and writes one JSON document to $GPK_PROBE_OUTPUT.

  resources                       ray.cluster_resources() and the alive nodes
  spread --rounds R --kit|--plain R rounds of one one-GPU task per worker, at once; per-node
                                  counts and the most tasks one node ran at once
  actor-create NAME               a detached named actor in namespace "gpk-e2e"; prints its node
  actor-call NAME                 calls it; {"found": false} when the GCS no longer knows it
  retries --dir D [--max-retries N] a task whose worker process dies on every attempt
"""
import argparse
import json
import os
import time

import ray

NAMESPACE = "gpk-e2e"


def alive_nodes():
    return [n for n in ray.nodes() if n["Alive"]]


def cmd_resources(_args):
    nodes = alive_nodes()
    return {
        "resources": ray.cluster_resources(),
        "nodes": [{"nodeId": n["NodeID"], "ip": n["NodeManagerAddress"], "resources": n["Resources"], "labels": n.get("Labels", {})} for n in nodes],
    }


@ray.remote(num_gpus=1)
def gpu_task(seconds):
    time.sleep(seconds)
    return ray.get_runtime_context().get_node_id()


def cmd_spread(args):
    workers = [n for n in alive_nodes() if n["Resources"].get("GPU", 0) > 0]
    counts = {n["NodeID"]: 0 for n in workers}
    # The kit's bundle: one gpk-node-slot per worker, so concurrent GPU tasks land one per node.
    task = gpu_task.options(resources={"gpk-node-slot": 1}) if args.kit else gpu_task
    peak = 0  # most tasks one node ran at once, over all rounds
    for _ in range(args.rounds):
        in_round = {}
        for node in ray.get([task.remote(args.seconds) for _ in workers]):
            counts[node] += 1
            in_round[node] = in_round.get(node, 0) + 1
        peak = max(peak, max(in_round.values()))
    values = list(counts.values())
    mean = sum(values) / len(values)
    return {"counts": values, "tasks": sum(values), "workers": len(values), "maxOverMean": max(values) / mean, "peakTasksOnOneNode": peak}


@ray.remote
class Counter:
    def __init__(self):
        self.value = 0

    def incr(self):
        self.value += 1
        return {"value": self.value, "node": ray.get_runtime_context().get_node_id()}


def cmd_actor_create(args):
    actor = Counter.options(name=args.name, namespace=NAMESPACE, lifetime="detached").remote()
    return ray.get(actor.incr.remote())


def cmd_actor_call(args):
    try:
        actor = ray.get_actor(args.name, namespace=NAMESPACE)
    except ValueError as err:
        return {"found": False, "error": str(err).splitlines()[0]}
    return {"found": True, **ray.get(actor.incr.remote(), timeout=120)}


def cmd_retries(args):
    @ray.remote(num_gpus=1)
    def dies(directory):
        # One file per attempt, then the worker process exits as if the node killed it.
        with open(os.path.join(directory, f"{time.time():.6f}-{os.getpid()}"), "w"):
            pass
        os._exit(1)

    options = {} if args.max_retries is None else {"max_retries": args.max_retries}
    started = time.time()
    try:
        ray.get(dies.options(**options).remote(args.dir), timeout=300)
        outcome = "returned"
    except ray.exceptions.WorkerCrashedError:
        outcome = "WorkerCrashedError"
    except Exception as err:  # anything else is a finding of the test, reported by name
        outcome = type(err).__name__
    attempts = sorted(float(name.split("-")[0]) for name in os.listdir(args.dir))
    return {
        "outcome": outcome,
        "attempts": len(attempts),
        "gapsSeconds": [round(b - a, 3) for a, b in zip(attempts, attempts[1:])],
        "seconds": round(time.time() - started, 3),
    }


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("resources")
    spread = sub.add_parser("spread")
    spread.add_argument("--rounds", type=int, default=5)
    spread.add_argument("--seconds", type=float, default=0.5)
    mode = spread.add_mutually_exclusive_group(required=True)
    mode.add_argument("--kit", action="store_true")
    mode.add_argument("--plain", action="store_true")
    for name in ("actor-create", "actor-call"):
        sub.add_parser(name).add_argument("name")
    retries = sub.add_parser("retries")
    retries.add_argument("--dir", required=True)
    retries.add_argument("--max-retries", type=int)
    args = parser.parse_args()
    ray.init(address=os.environ["RAY_ADDRESS"], namespace=NAMESPACE, logging_level="ERROR", log_to_driver=False)
    handler = {"resources": cmd_resources, "spread": cmd_spread, "actor-create": cmd_actor_create, "actor-call": cmd_actor_call, "retries": cmd_retries}
    result = handler[args.command](args)
    # Ray prints worker and raylet messages to the driver's stdout; the result goes to a file.
    with open(os.environ["GPK_PROBE_OUTPUT"], "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
