#!/usr/bin/env python3
"""make bench-instr: instructions per span of each tier's hot path, under callgrind.

Wall-clock and CPU figures on shared 2-core VMs move by 2x between machines; instruction
counts do not. Each phase runs the tier under `valgrind --tool=callgrind` twice on the
devbroker, with the same fixed input of two sizes (kotel-loadgen with a fixed seed, pool and
request count; for kotel-process a topic preloaded with that many requests), and reports the
marginal cost

    instructions per span = (Ir(large) - Ir(small)) / (spans(large) - spans(small))

over every thread of the tier's process (librdkafka's included, as the CPU figures of
make bench). Start-up, the group join and shutdown cost the same in both runs and cancel out.

Phases: ingest-grpc, ingest-http, ingest-gzip (kotel-ingest, OTLP/gRPC, OTLP/HTTP protobuf,
and the same gzipped, into one topic keyed by trace ID), process-pass (kotel-process with no
stage: validate and forward), process-full (make bench's process-full configuration: filter,
transform, tail sampling with two policies), process-realistic (make bench's
process-realistic configuration: a filter on a span attribute, a two-statement transform,
three policies), process-ottl (make bench's 20-statement transform), raw-consume
(kotel-rawconsume, a bare librdkafka consumer, reading the same preloaded topic: the ceiling
the process phases are divided by in the table's last column).

The figures are compared with test/bench/instr-baseline.json (committed; KT_BENCH_INSTR_UPDATE=1
rewrites it from this run) and the change printed per phase, so a regression shows as a
number. build/bench-instr.json keeps the raw counts. Knobs: KT_BUILD, KT_BENCH_INSTR_PHASES
(comma-separated subset), KT_BENCH_INSTR_REQUESTS (small,large requests of 520 spans each;
default 60,180)."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402 - the processes, ports and load generator of make bench

BASELINE = os.path.join(B.REPO, "test", "bench", "instr-baseline.json")
OUT = os.path.join(B.BUILD, "bench-instr.json")
ALL_PHASES = ["ingest-grpc", "ingest-http", "ingest-gzip", "process-pass", "process-full", "process-realistic",
              "process-ottl", "raw-consume"]
PHASES = [p for p in os.environ.get("KT_BENCH_INSTR_PHASES", ",".join(ALL_PHASES)).split(",") if p]
SIZES = [int(x) for x in os.environ.get("KT_BENCH_INSTR_REQUESTS", "60,180").split(",")]
SEED = "7"
# As many distinct requests as the large run sends: no trace ID comes twice. With a smaller
# pool, a trace's spans came again after the sampler had decided it, and whether a span met
# its trace decided or not (late spans skip the policies) depended on timing: process-realistic
# moved by 200 instructions per span between runs.
POOL = str(max(SIZES))
# Under valgrind everything is ~50x slower: generous bounds, never a fixed sleep.
SLOW = 60.0
# librdkafka's statistics (both tiers set statistics.interval.ms) are work per interval of
# wall-clock time, not per span: every emission rolls its latency histograms over (about
# 0.4 M instructions each). Valgrind stretches a run some 50 times, so the large run, which
# lasts longer, emitted more of them, which added about 200 instructions per span to
# ingest-grpc's figure, by how fast the machine ran valgrind. At full speed it is a few
# hundred microseconds per second. Measured with them off.
NO_STATS = ["--set", "kafka.rdkafka.statistics.interval.ms=0"]


def callgrind(out_file, argv):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file, "--dump-instr=no",
            "--collect-jumps=no", "--trace-children=no"] + argv


def total_ir(out_file):
    """Ir of every thread: callgrind writes one file (thread totals summed) at exit."""
    with open(out_file) as f:
        for ln in f:
            m = re.match(r"^(?:summary|totals):\s+(\d+)", ln)
            if m:
                return int(m.group(1))
    raise B.BenchError("%s: no summary line" % out_file)


def start_ingest_cg(workdir, bootstrap, out_file):
    grpc_port, http_port = B.free_ports(2)
    argv = [B.binary("kotel-ingest"), "--set", "admin.endpoint=", "--set", "kafka.brokers=" + bootstrap,
            "--set", "receiver.grpc_endpoint=127.0.0.1:%d" % grpc_port,
            "--set", "receiver.http_endpoint=127.0.0.1:%d" % http_port]
    for s in B.INGEST_SET:
        argv += ["--set", s]
    ing = B.Child("kotel-ingest", callgrind(out_file, argv + NO_STATS), workdir)
    B.wait_port(grpc_port, ing, timeout=SLOW)
    B.wait_port(http_port, ing, timeout=SLOW)
    ing.grpc_port, ing.http_port = grpc_port, http_port
    return ing


def loadgen(protocol, gzip, port, requests):
    argv = [B.binary("kotel-loadgen"), "--protocol", protocol, "--connections", "1",
            "--target", "127.0.0.1:%d" % port, "--requests", str(requests), "--seed", SEED,
            "--pool", POOL, "--duration", "600"]
    if protocol == "grpc":
        argv += ["--streams", "4"]
    if gzip:
        argv.append("--gzip")
    lg = B.run_json(argv, timeout=900)
    if lg["requests_failed"] or lg["spans_acked"] != requests * B.SPANS_PER_REQUEST:
        raise B.BenchError("loadgen: %s" % lg)
    return lg["spans_acked"]


def ingest_once(phase, workdir, requests, n):
    protocol, gzip = {"ingest-grpc": ("grpc", False), "ingest-http": ("http", False),
                      "ingest-gzip": ("http", True)}[phase]
    out_file = os.path.join(workdir, "%s.%d.callgrind" % (phase, n))
    broker = B.start_broker(workdir, 4)
    try:
        ing = start_ingest_cg(workdir, broker.bootstrap, out_file)
        try:
            spans = loadgen(protocol, gzip, ing.grpc_port if protocol == "grpc" else ing.http_port, requests)
        finally:
            B.stop_checked(ing, grace=300)
    finally:
        broker.stop(grace=5)
    return spans, total_ir(out_file)


def preload(workdir, broker, requests):
    ing = B.start_ingest(workdir, broker.bootstrap, B.INGEST_SET)
    try:
        return loadgen("grpc", False, ing.grpc_port, requests)
    finally:
        B.stop_checked(ing)


def process_once(phase, workdir, requests, n):
    out_file = os.path.join(workdir, "%s.%d.callgrind" % (phase, n))
    # The devbroker keeps ~5 MB per partition: 16 hold the large preload with room to spare.
    broker = B.start_broker(workdir, 16)
    sink = proc = None
    try:
        spans = preload(workdir, broker, requests)
        sink = B.Child("kotel-sink", [B.binary("kotel-sink"), "--listen", "127.0.0.1:0"], workdir, stdin=True)
        addr = sink.line(10, "listen address")
        argv = [B.binary("kotel-process"), "--set", "admin.endpoint=", "--set", "kafka.brokers=" + broker.bootstrap,
                "--set", "kafka.group_id=kotel-bench-instr-%d" % n, "--set", "kafka.initial_offset=earliest",
                "--set", "kafka.metrics_topic=", "--set", "kafka.logs_topic=",
                "--set", "exporter.endpoint=http://" + addr, "--set", "exporter.protocol=grpc",
                "--set", "exporter.compression=none",
                # A poll round of the OTTL phase takes seconds under valgrind on a loaded
                # machine: the default 5 s timeout would resend a batch the sink counted.
                "--set", "exporter.timeout=300s",
                # There valgrind also starved librdkafka's heartbeats past the default 10 s:
                # the group dropped the member, which read 10 % of the topic again.
                "--set", "kafka.session_timeout=60s"]
        if phase in B.PHASE_INI:
            ini = os.path.join(workdir, phase + ".ini")
            with open(ini, "w") as f:
                f.write(B.PHASE_INI[phase].replace("{dw}", "1000"))
            argv += ["-c", ini]
        proc = B.Child("kotel-process", callgrind(out_file, argv + NO_STATS), workdir)
        # Every preloaded message taken in: kotel-process's metrics would need the admin
        # endpoint (more instructions); the sink's count settles instead. Pass-through
        # delivers every span; the sampled phases deliver what the policies keep, once every
        # trace was decided (decision_wait 1 s, slower under valgrind).
        deadline = time.monotonic() + 900
        last, since = -1, time.monotonic()
        while True:
            time.sleep(0.2)
            if not proc.alive():
                raise B.BenchError("kotel-process exited (%s)\n%s" % (proc.proc.returncode, proc.tail()))
            got = B.sink_stats(sink)["spans"]
            if phase not in B.SAMPLED and got >= spans:
                break
            if got != last:
                last, since = got, time.monotonic()
            elif phase in B.SAMPLED and got > 0 and time.monotonic() - since > 20:
                break
            if time.monotonic() > deadline:
                raise B.BenchError("%s: sink has %d spans after 900 s\n%s" % (phase, got, proc.tail()))
        B.stop_checked(proc, grace=300)
        st = B.processed_stats(proc)
        if st["items_in"] != spans:
            raise B.BenchError("%s: kotel-process took in %d spans, %d were preloaded" % (phase, st["items_in"], spans))
        proc = None
    finally:
        if proc is not None:
            proc.stop(grace=5)
        if sink is not None:
            sink.stop(grace=5)
        broker.stop(grace=5)
    return spans, total_ir(out_file)


def rawconsume_once(phase, workdir, requests, n):
    """kotel-rawconsume reading the same preload as the process phases, to its end."""
    out_file = os.path.join(workdir, "%s.%d.callgrind" % (phase, n))
    broker = B.start_broker(workdir, 16)
    try:
        spans = preload(workdir, broker, requests)
        argv = [B.binary("kotel-rawconsume"), "--brokers", broker.bootstrap, "--topic", B.TOPIC,
                "--group", "kotel-bench-instr-raw-%d" % n, "--timeout", "900"]
        r = B.run_json(callgrind(out_file, argv), timeout=1000)
        if r["messages"] <= 0:
            raise B.BenchError("%s: kotel-rawconsume read no message" % phase)
    finally:
        broker.stop(grace=5)
    return spans, total_ir(out_file)


def run_phase(phase, workdir):
    once = (ingest_once if phase.startswith("ingest") else
            rawconsume_once if phase == "raw-consume" else process_once)
    runs = [once(phase, workdir, r, i) for i, r in enumerate(SIZES)]
    (s0, i0), (s1, i1) = runs[0], runs[-1]
    return {"phase": phase, "runs": [{"spans": s, "ir": ir} for s, ir in runs],
            "ir_per_span": (i1 - i0) / (s1 - s0)}


def main():
    if len(SIZES) != 2 or SIZES[0] >= SIZES[1]:
        raise B.BenchError("KT_BENCH_INSTR_REQUESTS: want small,large (small < large), got %s" % SIZES)
    workdir = os.path.join(B.BUILD, "bench-instr")
    os.makedirs(workdir, exist_ok=True)
    for f in os.listdir(workdir):
        os.remove(os.path.join(workdir, f))
    base = {}
    if os.path.exists(BASELINE):
        with open(BASELINE) as f:
            base = json.load(f).get("ir_per_span", {})
    results = []
    for phase in PHASES:
        t0 = time.monotonic()
        r = run_phase(phase, workdir)
        r["seconds"] = time.monotonic() - t0
        results.append(r)
        print("bench-instr: %-13s %8.0f instructions/span  (%s spans, %.0f s)"
              % (phase, r["ir_per_span"], "/".join(str(x["spans"]) for x in r["runs"]), r["seconds"]),
              flush=True)
    raw = next((r["ir_per_span"] for r in results if r["phase"] == "raw-consume"), None)
    print("\n| phase | instructions/span | baseline | change | x raw-consume |\n|---|---:|---:|---:|---:|")
    for r in results:
        b = base.get(r["phase"])
        change = "%+.1f %%" % (100.0 * (r["ir_per_span"] - b) / b) if b else "-"
        ratio = "%.1f" % (r["ir_per_span"] / raw) if raw and r["phase"].startswith("process-") else "-"
        print("| %s | %.0f | %s | %s | %s |" % (r["phase"], r["ir_per_span"], "%.0f" % b if b else "-", change, ratio))
    with open(OUT, "w") as f:
        json.dump({"sizes_requests": SIZES, "seed": SEED, "pool": POOL, "results": results}, f, indent=1)
    if os.environ.get("KT_BENCH_INSTR_UPDATE") == "1":
        merged = dict(base, **{r["phase"]: round(r["ir_per_span"]) for r in results})
        with open(BASELINE, "w") as f:
            json.dump({"about": "make bench-instr: instructions per span, marginal over %s requests of %d "
                                "spans (scripts/bench-instr.py)" % (SIZES, B.SPANS_PER_REQUEST),
                       "ir_per_span": merged}, f, indent=1, sort_keys=True)
            f.write("\n")
        print("bench-instr: baseline written to %s" % os.path.relpath(BASELINE, B.REPO))
    print("bench-instr: raw counts in %s" % os.path.relpath(OUT, B.REPO))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except B.BenchError as e:
        print("bench-instr: %s" % e, file=sys.stderr)
        sys.exit(1)
    finally:
        B.stop_all()
