#!/usr/bin/env python3
"""make bench-peer: kotel side by side with the OpenTelemetry Collector, on one machine and
one real Apache Kafka cluster (1 broker, scripts/kafka.sh; the Collector's franz-go client
cannot talk to kotel-devbroker, librdkafka's mock cluster).

Both sides run the configurations committed under test/otelcol/ as they are; the bench only
fills in endpoints, topics and group IDs (the Collector through ${env:...}, kotel through
--set). Every run starts its tier afresh on free loopback ports, and everything this bench
starts (broker, tiers, sink, load generators) is stopped at the end, also on failure or
Ctrl-C. It shares scripts/bench.py's process handling, cluster, preload and reports.

Phases (KT_BENCH_PEER_PHASES, comma-separated subset), each run for every tier in turn:
  ingest-loadgen-rate   kotel-loadgen (gRPC, the pre-encoded requests of make bench) at
                        KT_BENCH_PEER_RATE spans/s for KT_BENCH_PEER_SECONDS
  ingest-loadgen-full   the same at full speed
  ingest-tgen-rate      telemetrygen, KT_BENCH_PEER_TGEN_WORKERS workers sharing
                        KT_BENCH_PEER_RATE spans/s, --batch-size KT_BENCH_PEER_TGEN_BATCH
  ingest-tgen-default   the same with telemetrygen's default --batch-size (100)
  ingest-tgen-full      telemetrygen unthrottled, KT_BENCH_PEER_TGEN_FULL_WORKERS workers
  process-pass          a topic preloaded once (kotel-ingest, KT_BENCH_PEER_PRELOAD_SPANS
                        spans, 64 partitions) read from the earliest offset in a fresh group
                        into kotel-sink, no processing
  process-full          the same through filter, transform and tail sampling
Ingest tiers: kotel (kotel-ingest, ack = kafka), otelcol (otlp -> batch -> kafka exporter with
its sending_queue: both answer before Kafka has the data), otelcol-sync (otlp -> kafka
exporter, no batch processor, sending_queue disabled: answers after Kafka acknowledged, as
kotel does). Process tiers: kotel (kotel-process), otelcol.

Figures, all measured in this run (see METHOD for the windows):
  spans/s        ingest: spans in Kafka / window; process: preloaded spans / window
  us CPU/span    utime + stime of the tier's process (/proc/PID/stat, all threads) over the
                 window * 1e6 / spans (ingest: spans in Kafka)
  peak RSS MiB   VmHWM of the tier's process at the end of the window
  p99 ms         request latency seen by kotel-loadgen (ingest, loadgen phases)
  offered        ingest: spans the client sent (telemetrygen: generated, before its SDK's
                 queue); process: preloaded spans
  acked / in     ingest: spans kotel-loadgen had acknowledged; process: spans the tier took
                 in (kotel-process's exit line; the Collector's otelcol_receiver_accepted_spans)
  arrived        ingest: spans in the run's Kafka topic (every message decoded); process:
                 spans at the sink
  CPU x, RSS x   Collector / kotel, per phase (median of the rounds)

Knobs (environment): KT_BUILD, KT_BENCH_PEER_RATE (20000), KT_BENCH_PEER_SECONDS (6),
KT_BENCH_PEER_WARMUP_SECONDS (1), KT_BENCH_PEER_TGEN_WORKERS (20),
KT_BENCH_PEER_TGEN_FULL_WORKERS (4), KT_BENCH_PEER_TGEN_BATCH (512), KT_BENCH_PEER_PRELOAD_SPANS
(200000), KT_BENCH_PEER_REPEAT (2 rounds: every phase and tier once per round), KT_BENCH_PEER_PHASES
(all), KT_BENCH_PEER_OUT (build/bench-peer.json); kotel-loadgen's connections and streams
are make bench's (KT_BENCH_CONNECTIONS 4, KT_BENCH_STREAMS 8)."""

import datetime
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import bench
from bench import BenchError, Child, binary

REPO = bench.REPO
OTELCOL_SH = os.path.join(REPO, "scripts", "otelcol.sh")

RATE = bench.env_int("KT_BENCH_PEER_RATE", 20000)
SECONDS = bench.env_float("KT_BENCH_PEER_SECONDS", 6)
TGEN_WORKERS = bench.env_int("KT_BENCH_PEER_TGEN_WORKERS", 20)
TGEN_FULL_WORKERS = bench.env_int("KT_BENCH_PEER_TGEN_FULL_WORKERS", 4)
TGEN_BATCH = bench.env_int("KT_BENCH_PEER_TGEN_BATCH", 512)
TGEN_CHILD_SPANS = 1  # telemetrygen's default: a trace is a parent and one child span
PRELOAD_SPANS = bench.env_int("KT_BENCH_PEER_PRELOAD_SPANS", 200000)
REPEAT = bench.env_int("KT_BENCH_PEER_REPEAT", 2)
OUT = os.environ.get("KT_BENCH_PEER_OUT", os.path.join(bench.BUILD, "bench-peer.json"))
# Before each ingest window: kotel-loadgen at the fixed rate, so that connections, the Kafka
# producer's ID and metadata and the tier's first allocations are not in the window (they
# were the p99 of a short window: up to 200 ms for kotel's first requests).
WARMUP_S = bench.env_float("KT_BENCH_PEER_WARMUP_SECONDS", 1)
# After the client exits, the Collector's queues may still be producing: a run is over once
# the topic's end offsets have not moved for this long.
DRAIN_QUIET_S = 1.0
DRAIN_LIMIT_S = 120.0

ALL_PHASES = ["ingest-loadgen-rate", "ingest-loadgen-full", "ingest-tgen-rate", "ingest-tgen-default",
              "ingest-tgen-full", "process-pass", "process-full"]
PHASES = [p for p in os.environ.get("KT_BENCH_PEER_PHASES", ",".join(ALL_PHASES)).split(",") if p]
INGEST_TIERS = ["kotel", "otelcol", "otelcol-sync"]
PROCESS_TIERS = ["kotel", "otelcol"]
TIER_TITLES = {
    "kotel": "kotel (ingest: answers after Kafka acked)",
    "otelcol": "Collector (ingest: batch processor + sending_queue, answers before Kafka has the data)",
    "otelcol-sync": "Collector sync (no batch processor, sending_queue disabled: answers after Kafka acked)",
}
# The committed configurations each tier runs (paths relative to the repository).
FILES = {
    ("ingest", "kotel"): "test/otelcol/bench-ingest.ini",
    ("ingest", "otelcol"): "test/otelcol/bench-ingest.yaml",
    ("ingest", "otelcol-sync"): "test/otelcol/bench-ingest-sync.yaml",
    ("process-pass", "kotel"): "test/otelcol/bench-process-pass.ini",
    ("process-pass", "otelcol"): "test/otelcol/bench-process-pass.yaml",
    ("process-full", "kotel"): "test/otelcol/bench-process.ini",
    ("process-full", "otelcol"): "test/otelcol/bench-process.yaml",
}

METHOD = {
    "cluster": "one Apache Kafka cluster of 1 broker from scripts/kafka.sh (KRaft, PLAINTEXT on "
               "loopback, replication factor 1), started once under build/bench-peer-kafka/ for "
               "every phase and stopped at the end; acks all on both sides",
    "ingest": "each run gets a fresh topic of %d partitions (deleted after the run) and a fresh "
              "tier; 0.3 s after its ports opened, a warm-up of KT_BENCH_PEER_WARMUP_SECONDS of "
              "kotel-loadgen at the fixed rate, after which the topic's end offsets must stand still "
              "for %.1f s and its spans so far are not counted; the window runs from just "
              "before the client starts to the later of its exit and the last change of the "
              "topic's end offsets (polled every 0.1 s until they have not moved for %.1f s: the "
              "Collector's queues may still be producing after its client is done); CPU = "
              "utime+stime delta of the tier's process over the window and that quiet period; "
              "spans in Kafka = every message of the topic decoded (kcat) and its spans counted"
              % (bench.INGEST_PARTITIONS, DRAIN_QUIET_S, DRAIN_QUIET_S),
    "process": "one topic of %d partitions preloaded once through kotel-ingest (kotel-loadgen "
               "--requests, every trace ID distinct); each run starts a fresh kotel-sink and a "
               "fresh tier in a fresh consumer group reading from the earliest offset. Window: from "
               "the tier's first partition assignment log line (kotel: 'assigned N partitions', "
               "the Collector's franz-go: 'assigning partitions') to the first sink poll (every "
               "25 ms) at which the sink holds every span (process-pass) or its final count "
               "(process-full: unchanged for decision_wait + 1.5 s and, for the Collector, its "
               "receiver has accepted every preloaded span); spans/s subtracts decision_wait "
               "from the process-full window, CPU does not" % bench.PROC_PARTITIONS,
    "loadgen": "kotel-loadgen over gRPC, the requests make bench sends (520 spans: 52 traces of "
               "10 spans, ~370 bytes per span), %d connections x %d streams; --rate for the fixed "
               "offered rate" % (bench.CONNECTIONS, bench.STREAMS),
    "telemetrygen": "telemetrygen traces over gRPC, %d span(s) per trace plus the parent; its "
                    "OpenTelemetry SDK batch span processor has one export in flight and drops "
                    "spans when its queue (2048) is full, so 'offered' counts spans generated "
                    "and 'arrived' what reached Kafka" % TGEN_CHILD_SPANS,
    "collector_metrics": "the Collector runs with its default internal telemetry (metrics level "
                         "normal, Prometheus pull) on a free port; the bench reads it once at "
                         "the end of each run",
}


# ---------------------------------------------------------------- tools

def otelcol_sh(what):
    """A path scripts/otelcol.sh prints; its progress (a first build takes minutes) goes to stderr."""
    r = subprocess.run([OTELCOL_SH, what], cwd=REPO, stdout=subprocess.PIPE, timeout=3600)
    out = r.stdout.decode().strip().splitlines()
    if r.returncode != 0 or not out:
        raise BenchError("scripts/otelcol.sh %s: exit %d" % (what, r.returncode))
    return out[-1]


def tool_output(argv):
    try:
        r = subprocess.run(argv, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.decode("utf-8", "replace")


def versions(collector, tgen, cluster):
    """What ran: the Collector's components and Go build, telemetrygen, kotel, Kafka."""
    comps = tool_output([collector, "components"])
    built = tool_output(["go", "version", "-m", collector])
    tg = tool_output(["go", "version", "-m", tgen])
    go = re.search(r"^\S+: (go\S+)", built, re.M)
    franz = re.search(r"\sgithub\.com/twmb/franz-go\s+(v\S+)", built)
    tgv = re.search(r"\smod\s+\S+/cmd/telemetrygen\s+(v\S+)", tg)
    return {"collector_components": dict(re.findall(r"module: (\S+) (v\S+)", comps)),
            "collector_go": go.group(1) if go else None, "franz_go": franz.group(1) if franz else None,
            "telemetrygen": tgv.group(1) if tgv else None,
            "kotel": tool_output([binary("kotel-ingest"), "--version"]).strip(),
            "librdkafka": tool_output(["pkg-config", "--modversion", "rdkafka"]).strip() or None,
            "kafka": cluster.shape.get("kafka_version")}


def config_value(path, key):
    """A key's value in one of the committed files (INI 'key = v' or YAML 'key: v')."""
    with open(os.path.join(REPO, path)) as f:
        m = re.search(r"^\s*%s\s*[=:]\s*(\S+)" % key, f.read(), re.M)
    if not m:
        raise BenchError("%s: no %s" % (path, key))
    return m.group(1)


def seconds(text):
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s)$", text)
    if not m:
        raise BenchError("duration %r: want N s or N ms" % text)
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def scrape(port):
    """The Collector's own metrics, summed over their labels: {name: value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode("utf-8", "replace")
    out = {}
    for ln in text.splitlines():
        m = re.match(r"^(otelcol_(?:receiver|exporter|processor)_\w+?)(?:_total)?(?:\{[^}]*\})?\s+(\S+)$", ln)
        if m and not m.group(1).endswith(("_bucket", "_sum", "_count")):
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
    return out


def start_listening(name, nports, make, workdir):
    """make(ports) -> (argv, env). Started again on other ports when one was taken between
    choosing it and the tier binding it."""
    for attempt in range(3):
        ports = bench.free_ports(nports)
        argv, env = make(ports)
        child = Child(name, argv, workdir, env=env)
        try:
            for p in ports:
                bench.wait_port(p, child, timeout=30)
            child.ports, child.env = ports, env
            return child
        except BenchError:
            child.stop(grace=2)
            if attempt == 2 or "in use" not in child.log():
                raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- counting spans in Kafka

def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        if c < 0x80:
            return r, i
        s += 7


def _len_fields(b, i, end, number):
    """(start, end) of every length-delimited field `number` in the message b[i:end]."""
    out = []
    while i < end:
        key, i = _varint(b, i)
        wire = key & 7
        if wire == 2:
            n, i = _varint(b, i)
            if key >> 3 == number:
                out.append((i, i + n))
            i += n
        elif wire == 0:
            _, i = _varint(b, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise BenchError("undecodable message in the topic (wire type %d)" % wire)
    return out


def spans_in(value):
    """Spans in an OTLP TracesData message: resource_spans (1) > scope_spans (2) > spans (2)."""
    return sum(len(_len_fields(value, s2, e2, 2))
               for s1, e1 in _len_fields(value, 0, len(value), 1)
               for s2, e2 in _len_fields(value, s1, e1, 2))


def count_topic(bootstrap, topic):
    """(messages, spans) of a whole topic, every message read and decoded."""
    # %R: each value's length as a 32-bit big-endian integer, then the value.
    p = subprocess.Popen(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                          "-f", "%R%s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    messages = spans = 0
    try:
        while True:
            head = p.stdout.read(4)
            if len(head) < 4:
                break
            (n,) = struct.unpack(">i", head)
            messages += 1
            if n > 0:
                spans += spans_in(p.stdout.read(n))
    finally:
        p.stdout.close()
        err = p.stderr.read().decode("utf-8", "replace")
        p.wait()
    if p.returncode != 0:
        raise BenchError("kcat -C -t %s: exit %d: %s" % (topic, p.returncode, err[-2000:]))
    return messages, spans


def end_messages(target):
    return sum(bench.offsets(target.bootstrap, target.topic, bench.INGEST_PARTITIONS, -1).values())


def drain(target, since, what):
    """Waits until the topic's end offsets have not moved for DRAIN_QUIET_S; returns the
    message count and when it last changed (`since` if it did not)."""
    last, last_change = end_messages(target), since
    while time.monotonic() - last_change < DRAIN_QUIET_S:
        time.sleep(0.1)
        n = end_messages(target)
        if n != last:
            last, last_change = n, time.monotonic()
        if time.monotonic() - since > DRAIN_LIMIT_S:
            raise BenchError("%s: the topic still grows %.0f s after the client exited" % (what, DRAIN_LIMIT_S))
    return last, last_change


# ---------------------------------------------------------------- ingest

def start_ingest_tier(tier, workdir, target, collector):
    conf = os.path.join(REPO, FILES[("ingest", tier)])
    if tier == "kotel":
        def make(ports):
            sets = ["kafka.brokers=" + target.bootstrap] + target.sets + [
                    "receiver.grpc_endpoint=127.0.0.1:%d" % ports[0],
                    "receiver.http_endpoint=127.0.0.1:%d" % ports[1]]
            return [binary("kotel-ingest"), "-c", conf, "--set", "admin.endpoint=127.0.0.1:0"] + [a for s in sets for a in ("--set", s)], None
        return start_listening("kotel-ingest", 2, make, workdir)

    def make(ports):
        return [collector, "--config", conf], {
            "KT_OTELCOL_GRPC_ENDPOINT": "127.0.0.1:%d" % ports[0],
            "KT_OTELCOL_HTTP_ENDPOINT": "127.0.0.1:%d" % ports[1],
            "KT_OTELCOL_METRICS_PORT": str(ports[2]),
            "KT_OTELCOL_BROKERS": target.bootstrap, "KT_OTELCOL_TOPIC": target.topic}
    return start_listening(tier, 3, make, workdir)


def run_loadgen(phase, port):
    argv = bench.loadgen_argv("grpc", False, port, SECONDS, rate=RATE if phase == "ingest-loadgen-rate" else None)
    lg = bench.run_json(argv, timeout=SECONDS + 60)
    return {"argv": argv[1:], "result": lg, "offered": lg["requests_sent"] * lg["spans_per_request"],
            "acked": lg["spans_acked"], "p99_ms": lg["p99_ms"], "failed_requests": lg["requests_failed"]}


def run_telemetrygen(phase, port, workdir, tgen):
    if phase == "ingest-tgen-full":
        workers, rate, batch = TGEN_FULL_WORKERS, 0, ["--batch-size", str(TGEN_BATCH)]
    else:
        # --rate is per worker, in spans/s; one worker's rate limiter reaches about 2k spans/s,
        # so the offered rate is shared by many.
        workers, rate = TGEN_WORKERS, RATE / TGEN_WORKERS
        batch = [] if phase == "ingest-tgen-default" else ["--batch-size", str(TGEN_BATCH)]
    argv = [tgen, "traces", "--otlp-insecure", "--otlp-endpoint", "127.0.0.1:%d" % port,
            "--duration", "%gs" % SECONDS, "--workers", str(workers), "--rate", "%g" % rate,
            "--child-spans", str(TGEN_CHILD_SPANS), "--allow-export-failures"] + batch
    tg = Child("telemetrygen", argv, workdir)
    try:
        tg.proc.wait(timeout=SECONDS + 60)
    except subprocess.TimeoutExpired:
        raise BenchError("telemetrygen: still running %.0f s after its duration\n%s" % (60, tg.tail()))
    finally:
        rc = tg.stop(grace=5)
    log = tg.log()
    traces = [int(n) for n in re.findall(r"traces generated\s.*\"traces\": (\d+)", log)]
    if rc != 0 or len(traces) != workers:
        raise BenchError("telemetrygen: exit %s, %d of %d workers reported\n%s" % (rc, len(traces), workers,
                                                                                  tg.tail()))
    return {"argv": argv[1:], "offered": sum(traces) * (1 + TGEN_CHILD_SPANS), "acked": None, "p99_ms": None,
            "traces_generated": sum(traces),
            "error_lines": len(re.findall(r"^\S+\t(?:ERROR|WARN)\t", log, re.M))}


def ingest_run(phase, tier, workdir, cluster, collector, tgen):
    target = cluster.target(workdir, bench.INGEST_PARTITIONS, "%s-%s" % (phase, tier))
    try:
        t = start_ingest_tier(tier, workdir, target, collector)
        metrics, warm = None, None
        try:
            time.sleep(0.3)
            if WARMUP_S > 0:
                warm = bench.run_json(bench.loadgen_argv("grpc", False, t.ports[0], WARMUP_S, rate=RATE),
                                      timeout=WARMUP_S + 60)
                drain(target, time.monotonic(), "%s %s warm-up" % (phase, tier))
            warm_messages, warm_spans = count_topic(target.bootstrap, target.topic)
            cpu0, t0 = t.cpu_s(), time.monotonic()
            if phase.startswith("ingest-loadgen"):
                client = run_loadgen(phase, t.ports[0])
            else:
                client = run_telemetrygen(phase, t.ports[0], workdir, tgen)
            t_client = time.monotonic()
            last, last_change = drain(target, t_client, "%s %s" % (phase, tier))
            cpu1, rss = t.cpu_s(), t.hwm_mib()
            if tier != "kotel":
                metrics = scrape(t.ports[2])
        finally:
            bench.stop_checked(t)
        # Produced while the tier shut down, after the window: counted in Kafka, not in CPU.
        at_stop = end_messages(target)
        messages, spans = count_topic(target.bootstrap, target.topic)
    finally:
        target.close()
    if messages != at_stop:
        raise BenchError("%s %s: decoded %d messages, end offsets say %d" % (phase, tier, messages, at_stop))
    messages -= warm_messages
    spans -= warm_spans
    if spans <= 0:
        raise BenchError("%s %s: no span reached Kafka (client: %s)" % (phase, tier, client))
    window = max(t_client, last_change) - t0
    cpu = cpu1 - cpu0
    return {"phase": phase, "tier": tier, "argv": t.argv[1:], "env": t.env, "client": client,
            "offered": client["offered"], "acked": client["acked"], "arrived": spans,
            "warmup": {"loadgen": warm, "kafka_messages": warm_messages, "spans": warm_spans},
            "kafka_messages": messages, "messages_after_window": at_stop - last, "window_s": window,
            "client_s": t_client - t0, "cpu_s": cpu, "spans_per_s": spans / window,
            "us_per_span": cpu * 1e6 / spans, "rss_mib": rss, "p99_ms": client["p99_ms"],
            "collector_metrics": metrics}


# ---------------------------------------------------------------- process

def process_run(phase, tier, workdir, pre, collector, seq, decision_wait):
    full = phase == "process-full"
    conf = os.path.join(REPO, FILES[(phase, tier)])
    group = "kotel-bench-peer-%s-%s-%d-%d" % (phase, tier, seq, os.getpid())
    sink = Child("kotel-sink", [binary("kotel-sink"), "--listen", "127.0.0.1:0"], workdir, stdin=True)
    tier_proc = None
    try:
        addr = sink.line(10, "listen address")
        if tier == "kotel":
            sets = ["kafka.brokers=" + pre.target.bootstrap] + pre.target.sets + [
                    "kafka.group_id=" + group, "kafka.metrics_topic=", "kafka.logs_topic=",
                    "exporter.endpoint=http://" + addr]
            tier_proc = Child("kotel-process", [binary("kotel-process"), "-c", conf, "--set",
                                                "admin.endpoint=127.0.0.1:0"] +
                              [a for s in sets for a in ("--set", s)], workdir)
            tier_proc.env = None
            started = r"assigned \d+ partitions"
        else:
            tier_proc = start_listening(tier, 1, lambda ports: ([collector, "--config", conf], {
                "KT_OTELCOL_BROKERS": pre.target.bootstrap, "KT_OTELCOL_TOPIC": pre.target.topic,
                "KT_OTELCOL_GROUP": group, "KT_OTELCOL_EXPORT_ENDPOINT": addr,
                "KT_OTELCOL_METRICS_PORT": str(ports[0])}), workdir)
            started = r"assigning partitions"
        bench.wait_log(tier_proc, started, 60, "partition assignment")
        t0, cpu0 = time.monotonic(), tier_proc.cpu_s()
        quiet = decision_wait + 1.5
        samples, metrics, done, next_scrape = [], None, None, 0.0
        while done is None:
            time.sleep(0.025)
            now = time.monotonic()
            st = bench.sink_stats(sink)
            samples.append((now, tier_proc.cpu_s(), st["spans"]))
            if not tier_proc.alive():
                raise BenchError("%s exited (%s) during the run\n%s" % (tier, tier_proc.proc.returncode,
                                                                       tier_proc.tail()))
            if not full and st["spans"] >= pre.spans:
                done = samples[-1]
            elif full and st["spans"] > 0:
                first = next(s for s in samples if s[2] == st["spans"])
                if now - first[0] >= quiet:
                    # The sink count also stands still while a slow consumer has not yet
                    # reached the next decisions: the Collector says what it took in.
                    if tier == "kotel":
                        done = first
                    elif now >= next_scrape:
                        next_scrape = now + 0.5
                        metrics = scrape(tier_proc.ports[0])
                        if metrics.get("otelcol_receiver_accepted_spans", 0) >= pre.spans:
                            done = first
            if now - t0 > 300:
                raise BenchError("%s %s: sink has %d spans after 300 s\n%s" % (phase, tier, st["spans"],
                                                                              tier_proc.tail()))
        rss = tier_proc.hwm_mib()
        if tier != "kotel":
            metrics = scrape(tier_proc.ports[0])
        bench.stop_checked(tier_proc)
        taken_in = (bench.processed_stats(tier_proc)["items_in"] if tier == "kotel"
                    else int(metrics.get("otelcol_receiver_accepted_spans", 0)))
        final = bench.sink_stats(sink)
        bench.stop_checked(sink, grace=5)
    finally:
        if tier_proc is not None:
            tier_proc.stop(grace=5)
        sink.stop(grace=5)
    if final.get("bad_requests"):
        raise BenchError("%s %s: the sink refused %d export requests" % (phase, tier, final["bad_requests"]))
    if taken_in < pre.spans or final["spans"] <= 0:
        raise BenchError("%s %s: took in %d of %d preloaded spans, %d reached the sink"
                         % (phase, tier, taken_in, pre.spans, final["spans"]))
    window = done[0] - t0
    rate_window = window - (decision_wait if full else 0.0)
    cpu = done[1] - cpu0
    return {"phase": phase, "tier": tier, "argv": tier_proc.argv[1:], "env": tier_proc.env, "group": group,
            "offered": pre.spans, "acked": taken_in, "arrived": final["spans"], "sink": final,
            "window_s": window, "rate_window_s": rate_window, "cpu_s": cpu,
            "spans_per_s": pre.spans / rate_window, "us_per_span": cpu * 1e6 / pre.spans, "rss_mib": rss,
            "p99_ms": None, "collector_metrics": metrics,
            "timeline_columns": ["t_s", "cpu_s", "sink_spans"],
            "timeline": [[round(s[0] - t0, 3), round(s[1] - cpu0, 3), s[2]] for s in samples]}


# ---------------------------------------------------------------- report

COLUMNS = [("spans/s", "spans_per_s", "rate"), ("us CPU/span", "us_per_span", "us"),
           ("peak RSS MiB", "rss_mib", "mib"), ("p99 ms", "p99_ms", "ms"),
           ("offered", "offered", "count"), ("acked/in", "acked", "count"), ("arrived", "arrived", "count")]


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(runs):
    """{phase: {tier: medians, ratios against kotel}}."""
    out = {}
    for phase in PHASES:
        tiers = {}
        for tier in INGEST_TIERS:
            rs = [r for r in runs if r["phase"] == phase and r["tier"] == tier]
            if rs:
                tiers[tier] = {"runs": len(rs), **{k: med(rs, k) for _, k, _ in COLUMNS}}
        base = tiers.get("kotel")
        for tier, s in tiers.items():
            if tier != "kotel" and base:
                s["cpu_ratio"] = s["us_per_span"] / base["us_per_span"]
                s["rss_ratio"] = s["rss_mib"] / base["rss_mib"]
                s["rate_ratio"] = s["spans_per_s"] / base["spans_per_s"]
        if tiers:
            out[phase] = tiers
    return out


def table(runs, summary):
    head = ["phase", "tier"] + [c[0] for c in COLUMNS] + ["CPU x", "RSS x"]
    rows = []
    for phase, tiers in summary.items():
        for tier, s in tiers.items():
            rs = [r for r in runs if r["phase"] == phase and r["tier"] == tier]
            row = [phase if tier == next(iter(tiers)) else "", tier]
            for _, key, kind in COLUMNS:
                if kind == "count":
                    row.append("-" if s[key] is None else "%d" % s[key])
                else:
                    row.append(bench.cell([r.get(key) for r in rs], kind))
            row += [bench.fmt_num(s.get("cpu_ratio"), "ratio") if tier != "kotel" else "",
                    bench.fmt_num(s.get("rss_ratio"), "ratio") if tier != "kotel" else ""]
            rows.append(row)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(r):
        return "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def files_used():
    return {path: open(os.path.join(REPO, path)).read() for path in sorted(set(FILES.values()))}


def in_turn(tiers, rnd):
    """Every other round runs the tiers in reverse, so that neither side always runs first
    (on a fresh topic, a warmer page cache, a quieter machine)."""
    return tiers if rnd % 2 == 0 else tiers[::-1]


def check_process_configs():
    """The decision_wait both tail samplers use, once their files agree on it and on a
    num_traces that holds every preloaded trace (10 spans each) at once, so that neither
    drops a trace before its decision."""
    ini, yaml = FILES[("process-full", "kotel")], FILES[("process-full", "otelcol")]
    num_traces = {int(config_value(ini, "num_traces")), int(config_value(yaml, "num_traces"))}
    decision_wait = {seconds(config_value(ini, "decision_wait")), seconds(config_value(yaml, "decision_wait"))}
    if len(num_traces) != 1 or len(decision_wait) != 1:
        raise BenchError("%s and %s disagree on num_traces or decision_wait" % (ini, yaml))
    traces = -(-PRELOAD_SPANS // bench.SPANS_PER_REQUEST) * bench.SPANS_PER_REQUEST // 10
    if traces > min(num_traces):
        raise BenchError("KT_BENCH_PEER_PRELOAD_SPANS=%d: %d traces, more than num_traces (%d) in %s and %s"
                         % (PRELOAD_SPANS, traces, min(num_traces), ini, yaml))
    return decision_wait.pop()


def main():
    t_start = time.monotonic()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: (bench.stop_all(), sys.exit(128 + s)))
    bad = [p for p in PHASES if p not in ALL_PHASES]
    if bad:
        print("bench-peer: unknown phase(s) %s; known: %s" % (", ".join(bad), ", ".join(ALL_PHASES)),
              file=sys.stderr)
        return 2
    try:
        for tool in ["kotel-ingest", "kotel-process", "kotel-loadgen", "kotel-sink", "kotel-kafka-admin"]:
            binary(tool)
        decision_wait = check_process_configs()
        collector = otelcol_sh("build")
        tgen = otelcol_sh("telemetrygen")
    except BenchError as e:
        print("bench-peer: %s" % e, file=sys.stderr)
        return 2
    info = bench.machine()
    print("bench-peer: %d cpus (%s), %d round(s), ingest %gs at %d spans/s and at full speed, "
          "process preload %d spans" % (info["cpus_allowed"], info["model"], REPEAT, SECONDS, RATE, PRELOAD_SPANS),
          flush=True)
    bench.PRELOAD_SPANS = PRELOAD_SPANS
    runs, errors = [], []
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "method": METHOD, "tiers": TIER_TITLES,
              "config": {"repeat": REPEAT, "seconds": SECONDS, "rate": RATE, "tgen_workers": TGEN_WORKERS,
                         "tgen_full_workers": TGEN_FULL_WORKERS, "tgen_batch": TGEN_BATCH,
                         "preload_spans": PRELOAD_SPANS, "decision_wait_s": decision_wait,
                         "phases": PHASES, "collector": collector, "telemetrygen": tgen,
                         "preload_ingest_set": bench.INGEST_SET, "files": files_used()}}
    workdir = tempfile.mkdtemp(prefix="kotel-bench-peer.")
    seq = itertools.count(1)
    try:
        t = time.monotonic()
        cluster = bench.RealKafka(1, dirname="bench-peer-kafka")
        result["cluster"] = {"title": cluster.title, "shape": cluster.shape}
        result["versions"] = versions(collector, tgen, cluster)
        print("bench-peer: %s: up at %s (%.1fs)" % (cluster.title, cluster.bootstrap, time.monotonic() - t),
              flush=True)
        try:
            for rnd in range(REPEAT):
                for phase in [p for p in PHASES if p.startswith("ingest-")]:
                    for tier in in_turn(INGEST_TIERS, rnd):
                        t = time.monotonic()
                        r = ingest_run(phase, tier, workdir, cluster, collector, tgen)
                        r["round"] = rnd + 1
                        runs.append(r)
                        print("bench-peer: round %d %-20s %-12s %8.0f spans/s %6.2f us/span %7.1f MiB  p99 %s  "
                              "offered %d acked %s in Kafka %d  (%.1fs)"
                              % (rnd + 1, phase, tier, r["spans_per_s"], r["us_per_span"], r["rss_mib"],
                                 "-" if r["p99_ms"] is None else "%.1f ms" % r["p99_ms"], r["offered"],
                                 "-" if r["acked"] is None else r["acked"], r["arrived"], time.monotonic() - t),
                              flush=True)
            if any(p.startswith("process-") for p in PHASES):
                t = time.monotonic()
                pre = bench.Preload(workdir, cluster)
                try:
                    result["preload"] = pre.info
                    print("bench-peer: preloaded %d spans in %d messages on %d partitions (%.1fs)"
                          % (pre.spans, pre.messages, bench.PROC_PARTITIONS, time.monotonic() - t), flush=True)
                    for rnd in range(REPEAT):
                        for phase in [p for p in PHASES if p.startswith("process-")]:
                            for tier in in_turn(PROCESS_TIERS, rnd):
                                t = time.monotonic()
                                r = process_run(phase, tier, workdir, pre, collector, next(seq), decision_wait)
                                r["round"] = rnd + 1
                                runs.append(r)
                                print("bench-peer: round %d %-20s %-12s %8.0f spans/s %6.2f us/span %7.1f MiB  "
                                      "window %.2fs  in %d  at the sink %d  (%.1fs)"
                                      % (rnd + 1, phase, tier, r["spans_per_s"], r["us_per_span"], r["rss_mib"],
                                         r["window_s"], r["acked"], r["arrived"], time.monotonic() - t), flush=True)
                finally:
                    pre.target.close()
        finally:
            cluster.down()
    except BenchError as e:
        errors.append(str(e))
        print("bench-peer: FAILED: %s" % e, file=sys.stderr)
    finally:
        bench.stop_all()
    elapsed = time.monotonic() - t_start
    summary = summarize(runs)
    result.update({"summary": summary, "runs": runs, "errors": errors, "elapsed_s": elapsed,
                   "loadavg_at_end": os.getloadavg()})
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print()
    if "cluster" in result:
        print(result["cluster"]["title"])
    print(table(runs, summary))
    print()
    print("median (min-max) of %d round(s); CPU x, RSS x = Collector / kotel. Tiers:" % REPEAT)
    for tier in INGEST_TIERS:
        print("  %-12s %s" % (tier, TIER_TITLES[tier]))
    print("Raw runs, versions, configurations and method: %s (%.0f s)" % (os.path.relpath(OUT, REPO), elapsed))
    if not errors:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print("bench-peer: logs kept in %s" % workdir, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        bench.stop_all()
