#!/usr/bin/env python3
"""The driver of `scripts/bench --peers` (bench/peers/README.md).

    run_peers.py --work DIR --kiln BIN [--torch BIN] [--python PY]
                 [--systems kiln,jax,drjit,halide,libtorch] [--only k1,k2]
                 [--quick] [--not-run SYSTEM=REASON ...]

Writes the inputs, runs kiln (which also writes the interpreter's reference
results), then each peer in turn on one core, cross-checks every output
against the reference, and prints one table, also written to
DIR/peers.md and DIR/peers.json. A peer that cannot be run is listed as
"not run" with the reason; a result that disagrees with the reference fails
the run (exit status 1) after the table. Pure Python: runs with the
system's python3 (the Python peers run with --python, the venv's).
"""
import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# The systems in table order: name, title, how it runs.
SYSTEMS = [
    ("kiln", "kiln", "kiln"),          # kiln_peer writes kiln.json and kiln_fm.json
    ("kiln_fm", "kiln fast_math", "kiln"),
    ("jax", "JAX", "python:jax_peer.py"),
    ("drjit", "Dr.Jit", "python:drjit_peer.py"),
    ("halide", "Halide", "python:halide_peer.py"),
    ("libtorch", "libtorch", "torch"),
]
TITLES = {name: title for name, title, _ in SYSTEMS}
# Ratios are kiln fast_math / peer: every peer here may reassociate float
# sums and contract to fma, which kiln's default Options never do.
KILN_FOR_RATIOS = "kiln_fm"

# Cross-check tolerances per kernel: max |a - r| <= rtol * max |r| + atol,
# r the interpreter's result. Summation order and fma change the last bits
# of float32 results; the f64 kernels are tighter.
TOLERANCES = {
    "saxpy": (1e-6, 0.0),
    "chain": (1e-5, 0.0),
    "dot": (1e-3, 0.0),          # 2^20 float32 products summed in another order
    "stencil": (1e-12, 0.0),
    "recurrence": (1e-10, 0.0),
    "matmul": (1e-5, 0.0),
    "mlp_large": (1e-4, 0.0),
    "mlp_small": (1e-4, 0.0),
    "chain.grad": (1e-4, 0.0),   # near x*y = -1 the gradient is large: fma or not shows (Halide has no fma)
    "dot.grad": (1e-6, 0.0),
    "stencil.grad": (1e-10, 0.0),
    "matmul.grad": (1e-4, 0.0),
    "recurrence.grad": (1e-8, 0.0),
}
MANDEL_MAX_DIFFERENT = 0.005  # fraction of pixels whose escape step may differ


def compare(kernel, output, ref, got):
    """None when `got` agrees with `ref` (each a (dtype, shape, values) from
    pc.read_npy), else what differs."""
    (rdt, rshape, r), (gdt, gshape, g) = ref, got
    if len(r) != len(g) or (len(rshape) > 1 and tuple(rshape) != tuple(gshape)):
        return f"{output}: shape {list(gshape)}, expected {list(rshape)}"
    if kernel == "mandel":
        different = sum(1 for a, b in zip(r, g) if a != b)
        if different > MANDEL_MAX_DIFFERENT * len(r):
            return f"{output}: {different} of {len(r)} pixels differ (at most {MANDEL_MAX_DIFFERENT:.1%} may)"
        return None
    rtol, atol = TOLERANCES[kernel]
    scale = max((abs(x) for x in r), default=0.0)
    worst, at = 0.0, 0
    for i, (a, b) in enumerate(zip(g, r)):
        d = abs(a - b)
        if not d <= worst:  # NaN is never <= anything
            worst, at = d, i
            if math.isnan(d):
                break
    if not worst <= rtol * scale + atol:
        return (f"{output}: element {at} is {g[at]!r}, the interpreter's {r[at]!r} "
                f"(max difference {worst:.3g} > {rtol:g} x max|ref| {scale:.3g} + {atol:g})")
    return None


def run_system(args, name, how, log_dir):
    """Runs one system; None or the reason it did not run."""
    if how == "kiln":
        cmd = [args.kiln, args.work]
    elif how == "torch":
        if not args.torch or not os.path.exists(args.torch):
            return "kiln_peer_torch was not built (CMake did not find Torch: scripts/bench installs libtorch-dev)"
        cmd = [args.torch, args.work]
    else:
        script = os.path.join(HERE, how.split(":", 1)[1])
        cmd = [args.python, script, args.work]
    if args.quick:
        cmd.append("--quick")
    if args.only:
        cmd += ["--only", args.only]
    env = dict(os.environ)
    env.update({
        "KILN_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "HL_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    })
    if shutil.which("taskset") and not args.no_pin:
        cmd = ["taskset", "-c", str(args.core)] + cmd
    log = os.path.join(log_dir, f"{name}.log")
    print(f"peers: running {name}: {' '.join(cmd)} (log: {log})", flush=True)
    try:
        with open(log, "w") as f:
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return f"did not finish in {args.timeout} s (log: {log})"
    except OSError as e:
        return f"could not start: {e}"
    if not os.path.exists(os.path.join(args.work, "results", f"{name}.json")):
        with open(log, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
        last = lines[-1] if lines else "(no output)"
        return f"exit status {p.returncode}, no results: {last[:300]}"
    return None


def load_results(args, names, not_run):
    results = {}
    for name in names:
        if name in not_run:
            continue
        path = os.path.join(args.work, "results", f"{name}.json")
        if not os.path.exists(path):
            not_run[name] = "no results file"
            continue
        with open(path) as f:
            results[name] = json.load(f)
    return results


def cross_check(args, results, kernels):
    """Marks each ok kernel 'checked' or 'mismatch'; returns the mismatches."""
    mismatches = []
    for name, res in results.items():
        for kernel in kernels:
            entry = res["kernels"].get(kernel)
            if entry is None:
                res["kernels"][kernel] = {"status": "not run", "reason": "missing from the results file"}
                continue
            if entry["status"] != "ok":
                continue
            problems = []
            for output in pc.OUTPUTS[kernel]:
                ref_path = os.path.join(args.work, "ref", f"{kernel}.{output}.npy")
                rel = entry.get("outputs", {}).get(output)
                if rel is None:
                    problems.append(f"{output}: not written")
                    continue
                try:
                    why = compare(kernel, output, pc.read_npy(ref_path), pc.read_npy(os.path.join(args.work, rel)))
                except (OSError, ValueError) as e:
                    why = f"{output}: {e}"
                if why:
                    problems.append(why)
            if problems:
                entry["status"] = "mismatch"
                entry["mismatch"] = "; ".join(problems)
                mismatches.append(f"{TITLES.get(name, name)} {kernel}: {entry['mismatch']}")
            else:
                entry["checked"] = True
    return mismatches


def fmt(x, unit):
    if unit == "ms":
        return f"{x:.1f}" if x >= 10 else f"{x:.2f}"
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def cell(entry, key, unit, kiln_value=None):
    if entry is None:
        return "—"
    if entry["status"] == "not run":
        return "not run¹"
    if entry["status"] == "mismatch":
        return "**MISMATCH**"
    v = entry.get(key)
    if v is None:
        return "—"
    text = fmt(v, unit)
    if kiln_value is not None and v > 0:
        text += f" ({kiln_value / v:.2f}×)"
    return text


def grad_ratio(entry):
    if entry and entry["status"] == "ok" and entry.get("primal_us"):
        return entry["run_us"] / entry["primal_us"]
    return None


def machine():
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores, {mem}, {platform.system()} {platform.release()}"


def table(args, results, not_run, kernels, mismatches):
    names = [n for n, _, _ in SYSTEMS if n in results or n in not_run]
    peers = [n for n in names if n not in ("kiln", "kiln_fm")]
    head = "| kernel | " + " | ".join(TITLES[n] for n in names) + " |"
    rule = "|---" * (len(names) + 1) + "|"
    k = results.get(KILN_FOR_RATIOS, {"kernels": {}})["kernels"]

    def row(kernel, key, unit, ratio):
        cells = []
        for n in names:
            entry = results.get(n, {"kernels": {}})["kernels"].get(kernel) if n in results else {"status": "not run"}
            kv = None
            if ratio and n in peers and k.get(kernel, {}).get("status") == "ok":
                kv = k[kernel].get(key)
            cells.append(cell(entry, key, unit, kv))
        return f"| {kernel} | " + " | ".join(cells) + " |"

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [f"# kiln and its peers, {when}", "",
           f"Machine: {machine()}. One thread everywhere (each process pinned to one core). "
           f"{'Quick mode: few samples, not for quoting. ' if args.quick else ''}"
           f"Every result checked against kiln's interpreter (tolerances in bench/peers/run_peers.py).", "",
           "## Steady-state run time (µs, median)", "",
           f"In brackets: {TITLES[KILN_FOR_RATIOS]} / peer (below 1: kiln faster).", "", head, rule]
    out += [row(kn, "run_us", "us", True) for kn in kernels]
    out += ["", "## First call (ms): trace or stage, compile, one call; no disk cache", "",
            f"In brackets: {TITLES[KILN_FOR_RATIOS]} / peer.", "", head, rule]
    out += [row(kn, "first_call_ms", "ms", True) for kn in kernels]
    grads = [kn for kn in kernels if kn.endswith(".grad")]
    if grads:
        out += ["", "## Gradient / primal run time (the scalar loss's gradient over the loss itself)", "", head, rule]
        for kn in grads:
            cells = []
            for n in names:
                e = results.get(n, {"kernels": {}})["kernels"].get(kn) if n in results else None
                r = grad_ratio(e)
                if e is None or e["status"] == "not run":
                    cells.append("not run¹")
                elif e["status"] == "mismatch":
                    cells.append("**MISMATCH**")
                else:
                    cells.append(f"{r:.2f}" if r is not None else "—")
            out.append(f"| {kn} | " + " | ".join(cells) + " |")
    out += ["", "## Versions", ""]
    for n in names:
        if n in results:
            r = results[n]
            out.append(f"- {TITLES[n]}: {r.get('version', '?')}, {r.get('threads', '?')} thread(s). {r.get('notes', '')}".rstrip())
    notes = []
    for n in names:
        if n in not_run:
            notes.append(f"- {TITLES[n]}: not run at all: {not_run[n]}")
        elif n in results:
            for kn in kernels:
                e = results[n]["kernels"].get(kn)
                if e and e["status"] == "not run":
                    notes.append(f"- {TITLES[n]} {kn}: {e.get('reason', '?')}")
    if notes:
        out += ["", "¹ Not run:", ""] + notes
    if mismatches:
        out += ["", "## MISMATCHES (the run fails)", ""] + [f"- {m}" for m in mismatches]
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--kiln", required=True, help="the kiln_peer binary")
    ap.add_argument("--torch", default="", help="the kiln_peer_torch binary (libtorch)")
    ap.add_argument("--python", default=sys.executable, help="the Python that has the Python peers installed")
    ap.add_argument("--systems", default="kiln,jax,drjit,halide,libtorch")
    ap.add_argument("--only", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per system")
    ap.add_argument("--core", type=int, default=0, help="the core every system is pinned to")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--not-run", action="append", default=[], metavar="SYSTEM=REASON",
                    help="a system that could not be installed, and why")
    args = ap.parse_args(argv)
    args.work = os.path.abspath(args.work)

    kernels = [k for k in pc.KERNELS if not args.only or k in args.only.split(",")]
    chosen = args.systems.split(",")
    known = {n for n, _, _ in SYSTEMS}
    for s in chosen:
        if s not in known:
            ap.error(f"unknown system {s} (known: {', '.join(sorted(known))})")
    not_run = {}
    for item in args.not_run:
        name, _, reason = item.partition("=")
        not_run[name] = reason or "not installed"

    for sub in ("results", "out", "ref", "logs"):
        shutil.rmtree(os.path.join(args.work, sub), ignore_errors=True)
    log_dir = os.path.join(args.work, "logs")
    os.makedirs(log_dir, exist_ok=True)
    pc.make_inputs(args.work)

    # kiln first: it writes the reference every other system is checked against.
    why = run_system(args, "kiln", "kiln", log_dir)
    if why:
        print(f"peers: kiln_peer failed, nothing to compare against: {why}", file=sys.stderr)
        return 1
    names = ["kiln", "kiln_fm"]
    for name, _, how in SYSTEMS:
        if how == "kiln" or name not in chosen:
            continue
        names.append(name)
        if name in not_run:
            print(f"peers: {name}: not run: {not_run[name]}", flush=True)
            continue
        why = run_system(args, name, how, log_dir)
        if why:
            not_run[name] = why
            print(f"peers: {name}: not run: {why}", flush=True)

    results = load_results(args, names, not_run)
    mismatches = cross_check(args, results, kernels)
    text = table(args, results, not_run, kernels, mismatches)
    print()
    print(text)
    with open(os.path.join(args.work, "peers.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.work, "peers.json"), "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                   "threads": 1, "quick": args.quick, "ratios": f"{KILN_FOR_RATIOS} / peer",
                   "not_run": not_run, "mismatches": mismatches, "systems": results}, f, indent=1, sort_keys=True)
    print(f"peers: table in {args.work}/peers.md, data in {args.work}/peers.json")
    if mismatches:
        print(f"peers: FAILED: {len(mismatches)} result(s) disagree with kiln's interpreter", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
