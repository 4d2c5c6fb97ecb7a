"""CPU time of a replay on Spark (local mode) against `wafpy eval --workers 2`, in one run.

    python -m bench.spark_bench --records 1000000 [--files 16] [--keep DIR]

Generates AWS WAF log records (not committed): the 610 records of `samples/waf-logs.jsonl.gz`
repeated, each repetition an hour later, cut into `--files` files, and replays them through
the demo web ACL (`rulesets/demo-webacl.json`, whose rate-based rules key on the client IP, so
both sides split by client IP) with `--managed log`. Then, in the same run:

1. `wafpy eval --workers 2 -o FILE`: CPU time of the process and its workers;
2. `wafpy.spark.replay` on `local[2]` writing JSON lines: CPU time of the whole process tree
   (driver, JVM, Python workers) during the replay, the session started and warmed up by a first
   small replay (as a running cluster is), both reported apart; the records are checked to be
   the same (digest);
3. per-task overhead: the same small input (`--small` records) replayed with 2, 8 and 32
   partitions; the slope of CPU time against tasks;
4. scaling: `--scaling` records with 2, 4, 8 and 16 partitions: CPU and wall time.

Ratios only mean something within one run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ACL = ROOT / "rulesets" / "demo-webacl.json"
RESOURCES = ROOT / "rulesets" / "demo-resources"
SAMPLE = ROOT / "samples" / "waf-logs.jsonl.gz"
HOUR_MS = 3_600_000


def generate(folder: Path, records: int, files: int) -> list[str]:
    """`records` AWS WAF records in `files` files, each repetition of the sample an hour later."""
    lines = [json.loads(line) for line in gzip.decompress(SAMPLE.read_bytes()).splitlines() if line.strip()]
    per_file = -(-records // files)
    paths: list[str] = []
    written = 0
    for f in range(files):
        path = folder / f"waf-{f:03d}.jsonl"
        with path.open("w") as out:
            for i in range(written, min(records, written + per_file)):
                record = dict(lines[i % len(lines)])
                record["timestamp"] += (i // len(lines)) * HOUR_MS
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
        written = min(records, written + per_file)
        paths.append(str(path))
    return paths


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and every descendant (and the children they reaped), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    total = 0
    for pid in times:
        walk = pid
        while walk not in (0, 1, root) and walk in parents:
            walk = parents[walk]
        if walk == root:
            total += times[pid]
    return total / ticks


def digest_lines(paths: list[Path]) -> str:
    h = hashlib.sha256()
    lines: list[bytes] = []
    for path in paths:
        lines.extend(path.read_bytes().splitlines())
    for line in sorted(lines):
        h.update(line + b"\n")
    return h.hexdigest()


def run_eval(acl: str, logs: list[str], out: Path, workers: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [sys.executable, "-m", "wafpy", "eval", acl, *logs, "--resources", str(RESOURCES)]
    command += ["--managed", "log", "-q", "--workers", str(workers), "-o", str(out)]
    subprocess.run(command, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": time.perf_counter() - started, "digest": digest_lines([out])}


def spark_child(args: argparse.Namespace) -> None:
    """In a process of its own: start a session, replay, print the CPU of the process tree as JSON."""
    from wafpy.spark import AclSource, local_session, replay

    me = os.getpid()
    started = time.perf_counter()
    spark = local_session(f"local[{args.cores}]", "wafpy-bench", memory="4g")
    spark.sparkContext.setLogLevel("ERROR")
    start_cpu = tree_cpu(me)
    start_wall = time.perf_counter() - started
    source = AclSource.from_files(args.acl, resources=[str(RESOURCES)], managed="log")
    # A first replay warms up what a running cluster has warm: the JVM's compiled code, the
    # Python workers and their compiled web ACL. Its cost is reported apart.
    warm = Path(args.out) / "warm-up.jsonl"
    warm.parent.mkdir(parents=True, exist_ok=True)
    with open(args.logs[0], "rb") as first:
        warm.write_bytes(b"".join(first.readline() for _ in range(200)))
    cpu0, wall0 = tree_cpu(me), time.perf_counter()
    replay(spark, source, [str(warm)], None, partitions=args.cores)
    warm_cpu, warm_wall = tree_cpu(me) - cpu0, time.perf_counter() - wall0
    results = []
    for partitions in args.partitions:
        out = Path(args.out) / f"p{partitions}"
        cpu0, wall0 = tree_cpu(me), time.perf_counter()
        # 0: as many tasks as Spark reads the files in (no repartition without rate-based rules).
        done = replay(spark, source, args.logs, str(out), partition_by=None, partitions=partitions or None)
        results.append(
            {
                "partitions": partitions,
                "tasks": done.partitions,
                "cpu": tree_cpu(me) - cpu0,
                "wall": time.perf_counter() - wall0,
                "total": done.summary.total,
                "digest": digest_lines(sorted(out.glob("part-*"))),
            }
        )
    started_up = {"start_cpu": start_cpu, "start_wall": start_wall}
    started_up.update(warm_cpu=warm_cpu, warm_wall=warm_wall)
    print(json.dumps({**started_up, "runs": results}))
    spark.stop()


def run_spark(acl: str, logs: list[str], out: Path, partitions: list[int], cores: int = 2) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.spark_bench", "--child", "--out", str(out), "--cores", str(cores)]
    command += ["--acl", acl]
    command += ["--partitions", *map(str, partitions), "--logs", *logs]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--scaling", type=int, default=100_000)
    parser.add_argument("--keep", help="folder for the generated logs (default: a temporary one)")
    parser.add_argument(
        "--no-rate", action="store_true", help="the demo web ACL without its rate-based rules (no shuffle)"
    )
    parser.add_argument("--only-ratio", action="store_true", help="skip the per-task and scaling runs")
    parser.add_argument("--acl", default=str(ACL), help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--partitions", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--logs", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spark_child(args)
        return
    folder = Path(args.keep or tempfile.mkdtemp(prefix="wafpy-spark-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.no_rate:
        document = json.loads(ACL.read_text())
        acl = document["WebACL"]
        acl["Rules"] = [r for r in acl["Rules"] if "RateBasedStatement" not in r["Statement"]]
        args.acl = str(folder / "demo-without-rates.json")
        Path(args.acl).write_text(json.dumps(document))
    report: dict[str, Any] = {}
    (folder / "big").mkdir()
    big = generate(folder / "big", args.records, args.files)
    local = run_eval(args.acl, big, folder / "eval.jsonl", 2)
    spark = run_spark(args.acl, big, folder / "spark-big", [0] if args.no_rate else [2])
    run = spark["runs"][0]
    report["records"] = args.records
    report["eval --workers 2"] = {"cpu_s": round(local["cpu"], 1), "wall_s": round(local["wall"], 1)}
    report["spark local[2]"] = {
        "cpu_s": round(run["cpu"], 1),
        "wall_s": round(run["wall"], 1),
        "session_start_cpu_s": round(spark["start_cpu"], 1),
        "first_replay_cpu_s": round(spark["warm_cpu"], 1),
    }
    report["cpu_ratio"] = round(run["cpu"] / local["cpu"], 2)
    report["same_records"] = run["digest"] == local["digest"]
    if args.only_ratio:
        print(json.dumps(report, indent=2))
        return
    (folder / "small").mkdir()
    small = generate(folder / "small", args.small, 4)
    tasks = run_spark(args.acl, small, folder / "spark-small", [2, 8, 32])["runs"]
    slope = (tasks[-1]["cpu"] - tasks[0]["cpu"]) / (tasks[-1]["tasks"] - tasks[0]["tasks"])
    report["per_task"] = {
        "runs": [{k: r[k] for k in ("tasks", "cpu", "wall")} for r in tasks],
        "cpu_ms_per_task": round(slope * 1000, 1),
    }
    (folder / "scaling").mkdir()
    mid = generate(folder / "scaling", args.scaling, 8)
    report["scaling"] = [
        {k: round(r[k], 2) if isinstance(r[k], float) else r[k] for k in ("tasks", "cpu", "wall")}
        for r in run_spark(args.acl, mid, folder / "spark-scaling", [2, 4, 8, 16])["runs"]
    ]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
