#!/usr/bin/env python3
"""Turns the peers' output into pvmbench's JSON run format, and writes the
markdown report of perf/peers.sh.

    peers_json.py netpipe FILE --mode pingpong|stream|bidir --api NAME --transport T
                  [--path P] [--sizes LIST] [--log NETPIPE-OUTPUT]...
    peers_json.py ucx FILE --test lat|bw --benchmark NAME --api NAME --transport T
                  [--path P] [--sizes LIST]
    peers_json.py best OUT FILE...
    peers_json.py report DIR [--meta FILE] [--commands FILE] [--failures FILE]
                  [--table-sizes LIST]

The converters print one run object (BENCHMARKS.md) on standard output;
`best` copies, of several run files, the one with the highest message rate.

NetPIPE's output file (-o) has three columns: the block size in bytes, the
rate in Mbps (2^20 bits per second) and a time in seconds. The time is half
the round trip in ping-pong mode, the time per message in streaming mode
(-s), and the time of one exchange in bidirectional mode (-2), where both
ends send a block at once and the first column counts both blocks. NetPIPE
keeps the best of its trials (each the mean of its repeats), so only a mean
is known: every percentile is set to it. The rate column is not used; the
figures are computed from the bytes and the time.

ucx_perftest's CSV output (-v -f) has, per test, the median and mean
latency in microseconds (half the round trip for tag_lat, the time per
message for tag_bw), the bandwidth in MiB/s and the message rate. The
median is kept as p50; the other percentiles are set to the mean. Each
batch line must be named "<test>-<bytes>" (lat-8, bw-4194304), or
"mr-<bytes>-<k>" for repeated tag_bw runs of a message-rate figure, of which
the best is kept (tag_bw streams without flow control: when the receiver is
descheduled its unexpected-message queue grows, and one run can come out
several times slower than the next).
"""

import argparse
import json
import os
import platform
import re
import socket
import statistics
import sys

# --- the run object -------------------------------------------------------------


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "hostname": socket.gethostname(),
        "cpus": os.cpu_count() or 0,
        "cpu_model": model,
        "kernel": platform.release(),
    }


def one_way(mean_ns, p50_ns=None):
    """Percentiles are integers (pvmbench reads them as such); a tool that
    gives only a mean gets that mean everywhere."""
    m = int(round(mean_ns))
    p50 = m if p50_ns is None else int(round(p50_ns))
    return {"min": m, "p50": p50, "p90": m, "p99": m, "p999": m, "max": m, "mean": float(mean_ns)}


def result(size, iterations, mean_ns, gbytes, msgs, path, p50_ns=None):
    return {
        "bytes": size,
        "iterations": iterations,
        "one_way_ns": one_way(mean_ns, p50_ns),
        "gbytes_per_s": gbytes,
        "messages_per_s": msgs,
        "cpu_ns_per_msg": None,
        "path": path,
        "validated": None,
    }


def run(benchmark, transport, api, results):
    return {
        "benchmark": benchmark,
        "transport": transport,
        "api": api,
        "zero_copy": False,
        "machine": machine(),
        "results": sorted(results, key=lambda r: r["bytes"]),
    }


def size_list(text):
    if not text:
        return None
    out = set()
    for part in text.split(","):
        part = part.strip()
        if part:
            out.add(parse_size(part))
    return out


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KkMmGg]?)", text)
    if not m:
        raise SystemExit(f"peers_json: '{text}' is not a size")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


# --- NetPIPE --------------------------------------------------------------------


def netpipe_repeats(log_paths):
    """Repeat counts per block size from NetPIPE's progress lines
    ("  5:       8 bytes   2694 times -->  ...", on standard error)."""
    counts = {}
    for log_path in log_paths or []:
        try:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    m = re.match(r"\s*\d+:\s+(\d+) bytes\s+(\d+) times", line)
                    if m:
                        counts[int(m.group(1))] = int(m.group(2))
        except OSError:
            pass
    return counts


def convert_netpipe(a):
    wanted = size_list(a.sizes)
    repeats = netpipe_repeats(a.log)
    rows = {}
    with open(a.file, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3:
                continue
            try:
                block, seconds = int(float(fields[0])), float(fields[2])
            except ValueError:
                continue
            if seconds <= 0:
                continue
            if a.mode == "bidir":
                # Both ends sent one block in `seconds`: two messages.
                size = block // 2
                per_msg = seconds / 2
            else:
                size = block
                per_msg = seconds
            if wanted is not None and size not in wanted:
                continue
            ns = per_msg * 1e9
            rows[size] = result(size, repeats.get(size, 0), ns, size / per_msg / 1e9, 1 / per_msg, a.path or "")
    if not rows:
        raise SystemExit(f"peers_json: no usable rows in {a.file}")
    benchmark = {"pingpong": "pingpong", "stream": "bw", "bidir": "bibw"}[a.mode]
    return run(benchmark, a.transport, a.api, list(rows.values()))


# --- ucx_perftest ---------------------------------------------------------------


def convert_ucx(a):
    wanted = size_list(a.sizes)
    header = None
    rows = {}
    tries = {}
    with open(a.file, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = [x.strip() for x in line.strip().split(",")]
            # The header's first column is the batch file's name.
            if len(fields) > 2 and fields[1] == "iterations":
                header = ["batch"] + fields[1:]
                continue
            if header is None or len(fields) != len(header):
                continue
            rec = dict(zip(header, fields))
            m = re.fullmatch(r"(lat|bw|mr)-(\d+)(?:-\d+)?", rec["batch"])
            if not m or m.group(1) != a.test:
                continue
            size = int(m.group(2))
            if wanted is not None and size not in wanted:
                continue
            try:
                iters = int(rec["iterations"])
                p50_us = float(next(v for k, v in rec.items() if k.endswith("percentile_lat")))
                mean_us = float(rec["overall_lat"])
                rate = float(rec["overall_mr"])
            except (KeyError, StopIteration, ValueError):
                continue
            if mean_us <= 0:
                continue
            if a.test == "mr" and size in rows and rows[size]["messages_per_s"] >= rate:
                continue  # repeated message-rate runs: the best is kept
            if a.test == "lat":
                # tag_lat: half the round trip; bandwidth as pvmbench pingpong
                # reports it, the size over the mean one-way time.
                gb = size / (mean_us * 1e3)
                msgs = 1e6 / mean_us
            else:
                gb = size * rate / 1e9
                msgs = rate
            # tag_bw's median is of the time a send call takes, not of the
            # time per message in the stream: only its mean is kept.
            p50_ns = p50_us * 1e3 if a.test == "lat" else None
            rows[size] = result(size, iters, mean_us * 1e3, gb, msgs, a.path or "", p50_ns=p50_ns)
            tries[size] = tries.get(size, 0) + 1
    if a.test == "mr":
        for size, r in rows.items():
            r["path"] += f", best of {tries[size]} runs"
    if not rows:
        raise SystemExit(f"peers_json: no {a.test} rows in {a.file}")
    return run(a.benchmark, a.transport, a.api, list(rows.values()))


# --- best of repeated runs ---------------------------------------------------------


def best_run(a):
    """Of several run files (one run each, one size), the one with the
    highest message rate, written unchanged to OUT."""
    best = None
    for path in a.files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            data = json.loads(text)
        except (OSError, ValueError) as e:
            print(f"peers_json: skipping {path}: {e}", file=sys.stderr)
            continue
        r = data[0] if isinstance(data, list) else data
        try:
            rate = max(x["messages_per_s"] for x in r["results"])
        except (KeyError, TypeError, ValueError):
            continue
        if best is None or rate > best[0]:
            best = (rate, text)
    if best is None:
        raise SystemExit("peers_json: no run to choose from")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(best[1])


# --- the report -----------------------------------------------------------------

OURS = {"pvm", "transport", "c"}

# Ping-pong columns: (api, transport, heading).
PINGPONG_COLUMNS = [
    ("pvm", "shm", "ours pvm/shm"),
    ("transport", "shm", "ours transport/shm"),
    ("pvm", "tcp", "ours pvm/tcp"),
    ("pvm psend", "shm", "ours psend/shm"),
    ("pvm psend", "tcp", "ours psend/tcp"),
    ("Open MPI", "shm", "Open MPI shm"),
    ("UCX", "shm", "UCX shm"),
    ("Open MPI", "tcp", "Open MPI tcp"),
    ("UCX", "tcp", "UCX tcp"),
    ("NetPIPE TCP", "tcp", "NPtcp"),
    ("PVM 3.4.6", "unix", "PVM 3.4.6"),
]

# Ratios: ours ÷ peer, like for like.
RATIOS = [
    (("pvm", "shm"), ("Open MPI", "shm"), "pvm/shm ÷ Open MPI shm"),
    (("transport", "shm"), ("UCX", "shm"), "transport/shm ÷ UCX shm"),
    (("pvm", "tcp"), ("Open MPI", "tcp"), "pvm/tcp ÷ Open MPI tcp"),
    (("pvm", "tcp"), ("UCX", "tcp"), "pvm/tcp ÷ UCX tcp"),
    (("pvm", "tcp"), ("NetPIPE TCP", "tcp"), "pvm/tcp ÷ NPtcp"),
    (("pvm", "shm"), ("PVM 3.4.6", "unix"), "pvm/shm ÷ PVM 3.4.6"),
    (("pvm psend", "shm"), ("Open MPI", "shm"), "psend/shm ÷ Open MPI shm"),
    (("pvm psend", "tcp"), ("Open MPI", "tcp"), "psend/tcp ÷ Open MPI tcp"),
]

DEFAULT_TABLE_SIZES = [1, 8, 64, 512, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20]


def load_runs(directory):
    """Run objects by (benchmark, api, transport). Ours are filed by the path
    asked for (their file name, ours-BENCH-API-TRANSPORT.json): pvmbench
    reports the path it actually used, which the report points out when it
    differs. A task-library run with other calls than pack (send_mode) is
    filed under "pvm MODE" (file name ours-BENCH-pvmMODE-TRANSPORT.json)."""
    runs = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"peers_json: skipping {name}: {e}", file=sys.stderr)
            continue
        asked = re.fullmatch(r"ours-([a-z]+)-([a-z]+)-([a-z]+)\.json", name)
        for r in data if isinstance(data, list) else [data]:
            if not (isinstance(r, dict) and "benchmark" in r and "results" in r):
                continue
            transport = r["transport"]
            api = r["api"] if r.get("send_mode") in (None, "pack") else f'{r["api"]} {r["send_mode"]}'
            if asked and asked.group(1) == r["benchmark"] and asked.group(2) == api.replace(" ", ""):
                transport = asked.group(3)
            runs[(r["benchmark"], api, transport)] = r
    return runs


def path_notes(runs):
    notes = []
    for (bench, api, asked), r in sorted(runs.items()):
        if api in OURS and r["transport"] != asked:
            used = sorted({x.get("path", "") for x in r["results"]} - {""})
            notes.append(f"ours {bench} {api}/{asked}: pvmbench reports that its messages took the "
                         f"**{r['transport']}** path (per size: {', '.join(used) or '?'}), not {asked}; "
                         f"its figures in the {api}/{asked} columns are that path's.")
    return notes


def at(runs, benchmark, api, transport, size):
    r = runs.get((benchmark, api, transport))
    if not r:
        return None
    for x in r["results"]:
        if x["bytes"] == size:
            return x
    return None


def size_name(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def num(v, digits):
    return "—" if v is None else f"{v:.{digits}f}"


def lat_us(x):
    return None if x is None else x["one_way_ns"]["p50"] / 1e3


def gbs(x):
    return None if x is None else x["gbytes_per_s"]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


# One set of interleaved rounds: its file's lines are "name round figure".
# rows: (name, label); ratios: (numerator, denominator, label, target,
# at_least): with at_least the ratio must be the target or more, else at
# most it.
LATENCY_ROUNDS = {
    "title": "8 B over shared memory, interleaved rounds",
    "intro": "One-way ns. Each round runs every contender once, one after the other; ratios are taken within a round "
             "(this machine moves between speed modes for seconds at a time), then their median. "
             "**Below 1, the numerator is faster**; a target is the most the ratio may be.",
    "digits": 0,
    "rows": [("cacheline", "cache-line ping-pong (C, perf/cacheline-pingpong.c), p50"),
             ("transport", "ours transport/shm, p50"), ("pvm", "ours pvm/shm, p50"),
             ("transport-ring", "ours transport/shm, express line off (PVM_SHM_EXPRESS=off), p50"),
             ("pvm-ring", "ours pvm/shm, express line off, p50"),
             ("openmpi", "Open MPI shm (NPopenmpi), mean of its best trial")],
    "ratios": [("transport", "cacheline", "transport ÷ cache line", 1.3, False),
               ("pvm", "transport", "pvm ÷ transport", 1.5, False),
               ("transport", "transport-ring", "transport: express ÷ rings only", None, False),
               ("pvm", "pvm-ring", "pvm: express ÷ rings only", None, False),
               ("pvm-ring", "transport-ring", "pvm ÷ transport, both rings only", None, False),
               ("pvm", "openmpi", "pvm ÷ Open MPI", None, False),
               ("transport", "openmpi", "transport ÷ Open MPI", None, False)],
}

STREAM_ROUNDS = {
    "title": "4 MiB streaming, interleaved rounds",
    "intro": "GB/s (bibw counts both directions). Each round runs every contender once, one after the other "
             "(pvmbench with -i 10 -x 2: ten windows of 64 after two of warm-up; Open MPI under NetPIPE `-s` "
             "for bw, `-2 -a` for bibw); ratios are taken within a round, then their median. "
             "**Above 1, ours is faster**; a target is the least the ratio may be (issue 8: at least Open MPI's).",
    "digits": 2,
    "rows": [("bw-shm-transport", "bw shm, ours transport"), ("bw-shm-psend", "bw shm, ours pvm_psend"),
             ("bw-shm-openmpi", "bw shm, Open MPI"),
             ("bibw-shm-transport", "bibw shm, ours transport"), ("bibw-shm-psend", "bibw shm, ours pvm_psend"),
             ("bibw-shm-openmpi", "bibw shm, Open MPI"),
             ("bw-tcp-psend", "bw TCP, ours pvm_psend"), ("bw-tcp-openmpi", "bw TCP, Open MPI"),
             ("bibw-tcp-psend", "bibw TCP, ours pvm_psend"), ("bibw-tcp-openmpi", "bibw TCP, Open MPI")],
    "ratios": [("bw-shm-transport", "bw-shm-openmpi", "bw shm: transport ÷ Open MPI", 1.0, True),
               ("bw-shm-psend", "bw-shm-openmpi", "bw shm: pvm_psend ÷ Open MPI", 1.0, True),
               ("bibw-shm-transport", "bibw-shm-openmpi", "bibw shm: transport ÷ Open MPI", 1.0, True),
               ("bibw-shm-psend", "bibw-shm-openmpi", "bibw shm: pvm_psend ÷ Open MPI", 1.0, True),
               ("bw-tcp-psend", "bw-tcp-openmpi", "bw TCP: pvm_psend ÷ Open MPI", 1.0, True),
               ("bibw-tcp-psend", "bibw-tcp-openmpi", "bibw TCP: pvm_psend ÷ Open MPI", 1.0, True)],
}


def rounds_section(path, spec):
    """Interleaved rounds (lines: name, round, figure): each contender's
    figure per round, and the ratios of `spec` taken within each round."""
    by = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            try:
                by.setdefault(parts[0], {})[int(parts[1])] = float(parts[2])
            except ValueError:
                continue
    rounds = sorted({k for v in by.values() for k in v})
    if not rounds:
        return []
    out = [f"## {spec['title']}", "", spec["intro"], ""]
    out.append("| figure | " + " | ".join(f"round {k}" for k in rounds) + " | median | target |")
    out.append("|---|" + "---:|" * (len(rounds) + 1) + "---|")
    for key, label in spec["rows"]:
        vals = by.get(key, {})
        if not vals:
            continue
        cells = [num(vals.get(k), spec["digits"]) for k in rounds]
        out.append(f"| {label} | " + " | ".join(cells) + f" | {num(statistics.median(vals.values()), spec['digits'])} |  |")
    for top, bottom, label, target, at_least in spec["ratios"]:
        pairs = {k: by[top][k] / by[bottom][k] for k in rounds
                 if k in by.get(top, {}) and k in by.get(bottom, {}) and by[bottom][k] > 0}
        if not pairs:
            continue
        med = statistics.median(pairs.values())
        if target is None:
            mark = ""
        elif at_least:
            mark = f"≥ {target:.1f} {'✓' if med >= target else '✗'}"
        else:
            mark = f"≤ {target:.1f} {'✓' if med <= target else '✗'}"
        cells = [num(pairs.get(k), 2) for k in rounds]
        out.append(f"| {label} | " + " | ".join(cells) + f" | {med:.2f} | {mark} |")
    out.append("")
    return out


def report(a):
    runs = load_runs(a.dir)
    out = []
    if a.meta and os.path.exists(a.meta):
        with open(a.meta, encoding="utf-8") as f:
            out.append(f.read().rstrip("\n"))
        out.append("")

    sizes = sorted({x["bytes"] for k, r in runs.items() if k[0] == "pingpong" for x in r["results"]})
    chosen = size_list(a.table_sizes) if a.table_sizes else set(DEFAULT_TABLE_SIZES)
    sizes = [s for s in sizes if s in chosen]
    cols = [c for c in PINGPONG_COLUMNS if ("pingpong", c[0], c[1]) in runs]
    rats = [r for r in RATIOS if ("pingpong",) + r[0] in runs and ("pingpong",) + r[1] in runs]

    def table(title, value, digits, better):
        out.append(f"## {title}")
        out.append("")
        out.append(better)
        out.append("")
        out.append("| size | " + " | ".join([c[2] for c in cols] + [r[2] for r in rats]) + " |")
        out.append("|---:|" + "---:|" * (len(cols) + len(rats)))
        for s in sizes:
            cells = [num(value(at(runs, "pingpong", c[0], c[1], s)), digits) for c in cols]
            cells += [ratio(value(at(runs, "pingpong", *r[0], s)), value(at(runs, "pingpong", *r[1], s))) for r in rats]
            out.append(f"| {size_name(s)} | " + " | ".join(cells) + " |")
        out.append("")

    if sizes and cols:
        table("Ping-pong: one-way latency, p50 (us)", lat_us, 2,
              "Half the round trip. pvmbench and UCX give a median; NetPIPE gives only the mean of its best trial, "
              "shown here. Ratios are ours ÷ peer: **below 1, ours is faster**.")
        table("Ping-pong: bandwidth (GB/s, decimal)", gbs, 3,
              "Size over the mean one-way time (NetPIPE: over its best trial's mean). Ratios are ours ÷ peer: "
              "**above 1, ours is faster**.")
    else:
        out.append("No ping-pong results.")
        out.append("")

    # Headline figures.
    out.append("## Message rate and streaming bandwidth")
    out.append("")
    out.append("Ratios are ours ÷ peer: **above 1, ours is faster**.")
    out.append("")
    out.append("| figure | ours | peer | ours | peer | ratio | target |")
    out.append("|---|---|---|---:|---:|---:|---|")
    rate_size = 8
    big = 4 << 20
    lines = [
        ("msgrate", rate_size, "messages/s, best of repeated runs", ("pvm", "shm"), "msgrate", ("UCX", "shm"), "UCX tag_bw, sm", "≥ 1.20",
         lambda x: None if x is None else x["messages_per_s"], 0),
        ("msgrate", rate_size, "messages/s, best of repeated runs", ("transport", "shm"), "msgrate", ("UCX", "shm"), "UCX tag_bw, sm", "",
         lambda x: None if x is None else x["messages_per_s"], 0),
    ]
    for bench, peer_name in (("bw", "NetPIPE -s"), ("bibw", "NetPIPE -2 -a")):
        for ours, peer in ((("transport", "shm"), ("Open MPI", "shm")), (("pvm", "shm"), ("Open MPI", "shm")),
                           (("pvm psend", "shm"), ("Open MPI", "shm")), (("pvm", "tcp"), ("Open MPI", "tcp")),
                           (("pvm psend", "tcp"), ("Open MPI", "tcp"))):
            lines.append((bench, big, "GB/s", ours, bench, peer, f"Open MPI {peer[1]} ({peer_name})", "",
                          gbs, 3))
        if bench == "bw":
            lines.append((bench, big, "GB/s", ("transport", "shm"), "bw", ("UCX", "shm"), "UCX tag_bw, sm", "", gbs, 3))
            lines.append((bench, big, "GB/s", ("pvm", "tcp"), "bw", ("UCX", "tcp"), "UCX tag_bw, tcp", "", gbs, 3))
    for bench, size, unit, ours, peer_bench, peer, peer_label, target, value, digits in lines:
        mine = value(at(runs, bench, ours[0], ours[1], size))
        theirs = value(at(runs, peer_bench, peer[0], peer[1], size))
        if mine is None and theirs is None:
            continue
        rt = ratio(mine, theirs)
        if target and rt != "—":
            target += " ✓" if float(rt) >= 1.2 else " ✗"
        out.append(f"| {bench} {size_name(size)} ({unit}) | {ours[0]}/{ours[1]} | {peer_label} | "
                   f"{num(mine, digits)} | {num(theirs, digits)} | {rt} | {target} |")
    out.append("")

    for path, spec in ((a.rounds, LATENCY_ROUNDS), (a.stream_rounds, STREAM_ROUNDS)):
        if path and os.path.exists(path) and os.path.getsize(path) > 0:
            out.extend(rounds_section(path, spec))

    notes = path_notes(runs)
    if notes:
        out.append("## Paths")
        out.append("")
        out.extend(f"- {n}" for n in notes)
        out.append("")

    if a.failures and os.path.exists(a.failures) and os.path.getsize(a.failures) > 0:
        out.append("## Not measured")
        out.append("")
        with open(a.failures, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(f"- {line.strip()}")
        out.append("")

    if a.commands and os.path.exists(a.commands):
        out.append("## Command lines")
        out.append("")
        out.append("```")
        with open(a.commands, encoding="utf-8") as f:
            out.append(f.read().rstrip("\n"))
        out.append("```")
        out.append("")
    print("\n".join(out))


# --- command line ---------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description="Converts peers' benchmark output to pvmbench JSON; writes the peers report.")
    sub = p.add_subparsers(dest="cmd", required=True)

    n = sub.add_parser("netpipe", help="NetPIPE's output file (-o) to one run object")
    n.add_argument("file")
    n.add_argument("--mode", choices=["pingpong", "stream", "bidir"], default="pingpong")
    n.add_argument("--api", required=True)
    n.add_argument("--transport", required=True)
    n.add_argument("--path")
    n.add_argument("--sizes", help="keep only these sizes (comma list)")
    n.add_argument("--log", action="append", help="NetPIPE's standard output or error, for the repeat counts (repeatable)")

    u = sub.add_parser("ucx", help="ucx_perftest's -v -f batch output to one run object")
    u.add_argument("file")
    u.add_argument("--test", choices=["lat", "bw", "mr"], required=True)
    u.add_argument("--benchmark", required=True)
    u.add_argument("--api", default="UCX")
    u.add_argument("--transport", required=True)
    u.add_argument("--path")
    u.add_argument("--sizes")

    r = sub.add_parser("report", help="the markdown report from the run objects in DIR")
    r.add_argument("dir")
    r.add_argument("--meta", help="header text to put first")
    r.add_argument("--commands", help="file with the command lines used")
    r.add_argument("--failures", help="file with one line per step that failed")
    r.add_argument("--rounds", help="the 8 B interleaved rounds (name, round, one-way ns per line)")
    r.add_argument("--stream-rounds", help="the 4 MiB streaming interleaved rounds (name, round, GB/s per line)")
    g = sub.add_parser("gbs", help="print the GB/s of a run file's first result")
    g.add_argument("file")
    r.add_argument("--table-sizes", help="sizes to show (comma list; default: a selection from 1 B to 4 MiB)")

    b = sub.add_parser("best", help="of several run files, copy the one with the highest message rate to OUT")
    b.add_argument("out")
    b.add_argument("files", nargs="+")

    a = p.parse_args()
    if a.cmd == "report":
        report(a)
        return
    if a.cmd == "best":
        best_run(a)
        return
    if a.cmd == "gbs":
        with open(a.file, encoding="utf-8") as f:
            d = json.load(f)
        d = d[0] if isinstance(d, list) else d
        print(d["results"][0]["gbytes_per_s"])
        return
    obj = convert_netpipe(a) if a.cmd == "netpipe" else convert_ucx(a)
    json.dump(obj, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
