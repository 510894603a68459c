"""The capacity search as Ray tasks (cli/plan/ray.ts runs this with the Python that has Ray).

Reads a spec JSON {"address", "rayVersion", "workingDir", "taskCpus", "count"} from the file named
by argv[1]. Each candidate is one Ray task; Ray's runtime_env carries `workingDir` (the kit's
simulator bundled into capacity-task.js, and tasks.json) to the workers, where each task runs
`node capacity-task.js <its task file>`: the simulator is JavaScript, so a worker needs Node.js
(`node`, or $GPK_NODE, on its PATH). Each result is printed to stdout as one JSON line as it
arrives; exit 3 when the Ray here is not the version the kit pins, exit 4 when nothing answers at
the address (ray.init would wait for minutes before it gives up).
"""
import json
import os
import socket
import subprocess
import sys

import ray


def unreachable(address):
    """Why a `host:port` or `ray://host:port` address refuses a TCP connection within 5 s; None when it answers (or is "auto")."""
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            return None
    except OSError as err:
        return err.strerror or str(err)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    if ray.__version__ != spec["rayVersion"]:
        sys.stderr.write(f"ray {ray.__version__} is installed; the kit pins ray=={spec['rayVersion']} (tools/python-requirements.txt)\n")
        sys.exit(3)
    reason = unreachable(spec["address"])
    if reason:
        sys.stderr.write(f"nothing answers at {spec['address']}: {reason}\n")
        sys.exit(4)
    ray.init(
        address=spec["address"],
        runtime_env={"working_dir": spec["workingDir"], "env_vars": {"GPK_NODE": os.environ.get("GPK_NODE", "node")}},
        logging_level="ERROR",
        log_to_driver=False,
    )

    @ray.remote(num_cpus=spec["taskCpus"], max_retries=1)
    def evaluate(index):
        # The working_dir is the task's current directory.
        with open("tasks.json", encoding="utf-8") as f:
            task = json.load(f)[index]
        run = subprocess.run(
            [os.environ["GPK_NODE"], "capacity-task.js", "-"],
            input=json.dumps([task]), capture_output=True, text=True, check=False,
        )
        if run.returncode != 0:
            raise RuntimeError(f"node capacity-task.js exited {run.returncode}: {run.stderr[-2000:]}")
        return {"result": json.loads(run.stdout)[0], "node": ray.get_runtime_context().get_node_id()}

    pending = [evaluate.remote(i) for i in range(spec["count"])]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            sys.stdout.write(json.dumps(ray.get(ref)) + "\n")
            sys.stdout.flush()
    ray.shutdown()


if __name__ == "__main__":
    main()
