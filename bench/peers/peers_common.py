"""What every peer of `scripts/bench --peers` shares: the kernels' inputs,
the timing rules and the results file. Pure Python (no numpy needed), so the
driver and its test run with the system's python3; the peers themselves
load the inputs with numpy (`np.load`).

The work directory (build/release/peers by default) holds:
  inputs/<name>.npy           every input, written once by make_inputs()
  ref/<kernel>.<out>.npy      kiln's interpreter results (the oracle)
  out/<system>/<kernel>.<out>.npy   each system's results, cross-checked
  results/<system>.json       each system's timings (write_results below)
See bench/peers/README.md for the kernels, the rules and the JSON fields.
"""
import array
import ast
import json
import math
import os
import random
import statistics
import struct
import sys
import time

# --- the kernels ------------------------------------------------------------------
# Sizes and constants, the same for every system (README.md states the maths).
N = 1 << 20            # saxpy, chain, dot: float32 vectors
SAXPY_A = 2.5
GRID = 1024            # stencil: GRID x GRID float64
MANDEL = dict(w=256, h=256, x0=-2.0, y0=-1.5, step=3.0 / 256, max_iter=256)
RECUR = dict(x=0.3, a=0.9, steps=1000)
MAT = 64               # matmul: MAT x MAT x MAT float32
MLPS = {
    # name: widths, batch, activation, learning rate
    "mlp_large": dict(widths=[784, 128, 10], batch=64, act="relu", lr=0.1),
    "mlp_small": dict(widths=[2, 64, 64, 3], batch=256, act="tanh", lr=0.1),
}

# Kernel name -> its outputs. ".grad" kernels are gradients of a scalar loss;
# their entries also carry the loss's own time (primal_us).
OUTPUTS = {
    "saxpy": ["z"],
    "chain": ["z"],
    "dot": ["s"],
    "stencil": ["v"],
    "mandel": ["count"],
    "recurrence": ["s"],
    "matmul": ["c"],
    "mlp_large": ["loss", "W0", "b0", "W1", "b1"],
    "mlp_small": ["loss", "W0", "b0", "W1", "b1", "W2", "b2"],
    "chain.grad": ["gx"],
    "dot.grad": ["gx", "gy"],
    "stencil.grad": ["gu"],
    "matmul.grad": ["ga", "gb"],
    "recurrence.grad": ["gx", "ga"],
}
KERNELS = list(OUTPUTS)

# --- .npy files (format 1.0, little-endian, C order) ---------------------------------
_CODES = {"<f4": "f", "<f8": "d", "<i4": "i"}


def write_npy(path, dtype, shape, values):
    """Writes `values` (an iterable or array.array) as a .npy of `dtype`."""
    data = values if isinstance(values, array.array) else array.array(_CODES[dtype], values)
    if sys.byteorder != "little":
        data.byteswap()
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, repr(tuple(shape)))
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(data.tobytes())


def read_npy(path):
    """(dtype, shape, array.array) of a .npy written by write_npy or numpy."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    major = raw[6]
    if major == 1:
        hlen, start = struct.unpack("<H", raw[8:10])[0], 10
    else:
        hlen, start = struct.unpack("<I", raw[8:12])[0], 12
    header = ast.literal_eval(raw[start:start + hlen].decode("latin1"))
    dtype = header["descr"]
    if dtype not in _CODES:
        raise ValueError(f"{path}: dtype {dtype} is not one of {sorted(_CODES)}")
    if header["fortran_order"]:
        raise ValueError(f"{path}: Fortran order")
    data = array.array(_CODES[dtype])
    data.frombytes(raw[start + hlen:])
    if sys.byteorder != "little":
        data.byteswap()
    count = math.prod(header["shape"])
    if len(data) != count:
        raise ValueError(f"{path}: {len(data)} values for shape {header['shape']}")
    return dtype, tuple(header["shape"]), data


# --- the inputs -------------------------------------------------------------------------
def _uniform(rng, n, lo, hi, code):
    a = array.array(code, (rng.uniform(lo, hi) for _ in range(n)))
    return a


def make_inputs(workdir):
    """Writes every input into workdir/inputs (skipped when already there)."""
    d = os.path.join(workdir, "inputs")
    stamp = os.path.join(d, "done")
    if os.path.exists(stamp):
        return
    rng = random.Random(20261203)
    write_npy(f"{d}/x.npy", "<f4", [N], _uniform(rng, N, -1.0, 1.0, "f"))
    write_npy(f"{d}/y.npy", "<f4", [N], _uniform(rng, N, -1.0, 1.0, "f"))
    write_npy(f"{d}/u.npy", "<f8", [GRID, GRID], _uniform(rng, GRID * GRID, -1.0, 1.0, "d"))
    write_npy(f"{d}/A.npy", "<f4", [MAT, MAT], _uniform(rng, MAT * MAT, -1.0, 1.0, "f"))
    write_npy(f"{d}/B.npy", "<f4", [MAT, MAT], _uniform(rng, MAT * MAT, -1.0, 1.0, "f"))
    for name, spec in MLPS.items():
        w = spec["widths"]
        for l in range(len(w) - 1):
            bound = math.sqrt(6.0 / (w[l] + w[l + 1]))  # Glorot uniform
            write_npy(f"{d}/{name}.W{l}.npy", "<f4", [w[l], w[l + 1]], _uniform(rng, w[l] * w[l + 1], -bound, bound, "f"))
            write_npy(f"{d}/{name}.b{l}.npy", "<f4", [w[l + 1]], _uniform(rng, w[l + 1], -0.1, 0.1, "f"))
        write_npy(f"{d}/{name}.x.npy", "<f4", [spec["batch"], w[0]], _uniform(rng, spec["batch"] * w[0], -1.5, 1.5, "f"))
        write_npy(f"{d}/{name}.labels.npy", "<i4", [spec["batch"]],
                  array.array("i", (rng.randrange(w[-1]) for _ in range(spec["batch"]))))
    with open(stamp, "w") as f:
        f.write("inputs written by bench/peers/peers_common.py\n")


# --- timing -------------------------------------------------------------------------------
def first_call_ms(build_and_run):
    """Milliseconds of build_and_run(): tracing, compiling and one call, which
    must block until its result is ready."""
    t0 = time.perf_counter()
    build_and_run()
    return (time.perf_counter() - t0) * 1e3


def median_us(call, min_seconds=0.5, min_samples=15, max_samples=2000):
    """The median run time of call() in microseconds. call() must block until
    its result is ready. Calls shorter than ~100 us are timed in batches (one
    sample = the mean of a batch), so the clock's resolution does not count."""
    call()  # warm
    t0 = time.perf_counter()
    call()
    one = max(time.perf_counter() - t0, 1e-9)
    batch = max(1, int(1e-4 / one))
    samples = []
    start = time.perf_counter()
    while len(samples) < max_samples and (len(samples) < min_samples or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter() - t0) / batch)
    return statistics.median(samples) * 1e6


# --- results ------------------------------------------------------------------------------
class Results:
    """One system's results: timings per kernel and its outputs on disk.

        r = Results(workdir, "jax", version="0.10.2", threads=1)
        r.ok("saxpy", first_call_ms=..., run_us=..., outputs={"z": z})
        r.ok("chain.grad", first_call_ms=..., run_us=..., primal_us=..., outputs={"gx": gx})
        r.not_run("mandel", "why")
        r.write()
    Outputs are numpy arrays or Python scalars (saved with numpy, which
    every Python peer has)."""

    def __init__(self, workdir, system, version, threads, notes=""):
        self.workdir, self.system = workdir, system
        self.data = {"system": system, "version": version, "threads": threads, "notes": notes, "kernels": {}}

    def ok(self, kernel, first_call_ms, run_us, outputs, primal_us=None, note=""):
        import numpy as np
        if kernel not in OUTPUTS:
            raise KeyError(f"unknown kernel {kernel}")
        missing = set(OUTPUTS[kernel]) - set(outputs)
        if missing:
            raise KeyError(f"{kernel}: outputs {sorted(missing)} missing")
        files = {}
        for name, value in outputs.items():
            path = os.path.join(self.workdir, "out", self.system, f"{kernel}.{name}.npy")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            arr = np.asarray(value)
            if arr.ndim:  # np.ascontiguousarray makes a 0-d scalar 1-d
                arr = np.ascontiguousarray(arr)
            if arr.dtype == np.float64 or arr.dtype == np.float32 or arr.dtype == np.int32:
                np.save(path, arr)
            elif arr.dtype.kind == "i":
                np.save(path, arr.astype(np.int32))
            else:
                np.save(path, arr.astype(np.float64))
            files[name] = os.path.relpath(path, self.workdir)
        entry = {"status": "ok", "first_call_ms": first_call_ms, "run_us": run_us, "outputs": files}
        if primal_us is not None:
            entry["primal_us"] = primal_us
        if note:
            entry["note"] = note
        self.data["kernels"][kernel] = entry

    def not_run(self, kernel, reason):
        self.data["kernels"][kernel] = {"status": "not run", "reason": reason}

    def write(self):
        path = os.path.join(self.workdir, "results", f"{self.system}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        return path


def run_guarded(results, kernel, fn):
    """Runs fn() (which calls results.ok) and turns an exception into a
    'not run' entry with its message, so one kernel's failure does not hide
    the others."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 -- reported, never swallowed
        msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        print(f"{results.system}: {kernel} failed: {msg}", file=sys.stderr)
        results.not_run(kernel, msg)


if __name__ == "__main__":
    make_inputs(sys.argv[1] if len(sys.argv) > 1 else "build/release/peers")
