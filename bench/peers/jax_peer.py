#!/usr/bin/env python3
"""JAX's side of `scripts/bench --peers` (see README.md beside this file).

    python jax_peer.py WORKDIR [--quick] [--only k1,k2,...]

Reads WORKDIR/inputs, runs every kernel of peers_common.KERNELS with jax.jit
on the CPU, writes WORKDIR/results/jax.json and WORKDIR/out/jax/*.npy.
"""
import os
import sys

# --- one thread, CPU, no persistent cache: set before jax is imported ----------------
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_cpu_multi_thread_eigen" not in _flags:
    os.environ["XLA_FLAGS"] = (_flags + " --xla_cpu_multi_thread_eigen=false").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
# XLA:CPU sizes its intra-op pool (fusion tasks, XNNPACK) by the affinity mask and
# ignores the flags above for that, so pin to one core as the driver's taskset does.
if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import functools  # noqa: E402

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jaxlib  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402

jax.config.update("jax_enable_x64", True)  # stencil, mandel, recurrence are f64; f32 inputs stay f32
jax.config.update("jax_enable_compilation_cache", False)
jax.config.update("jax_compilation_cache_dir", None)


# --- the kernels (README.md's table, one function each) ---------------------------
def saxpy(x, y):
    return pc.SAXPY_A * x + y  # a Python float is weakly typed: the result stays f32


def chain(x, y):
    return jnp.sqrt(x * y + 1) * x + y  # JAX has no fma op (XLA:CPU's LLVM contracts x*y + 1 into one)


def dot(x, y):
    return jnp.dot(x, y)


def stencil(u):
    inner = 0.5 * u[1:-1, 1:-1] + 0.125 * (u[1:-1, :-2] + u[1:-1, 2:] + u[:-2, 1:-1] + u[2:, 1:-1])
    return jnp.pad(inner, 1)  # zero border


def mandel(x0, y0, step, *, w, h, max_iter):
    cr = jnp.broadcast_to(x0 + jnp.arange(w) * step, (h, w))
    ci = jnp.broadcast_to(y0 + jnp.arange(h)[:, None] * step, (h, w))

    # Vectorised over the whole grid with masks: lax.fori_loop, max_iter steps. Escaped
    # pixels keep their z (so stay escaped) and stop counting. No early exit: the grid
    # holds points of the set, which run all max_iter steps anyway.
    def body(_, state):
        zr, zi, k = state
        inside = zr * zr + zi * zi <= 4
        zr, zi = (jnp.where(inside, zr * zr - zi * zi + cr, zr),
                  jnp.where(inside, 2 * zr * zi + ci, zi))
        return zr, zi, k + inside.astype(jnp.int32)

    zero = jnp.zeros((h, w))
    return lax.fori_loop(0, max_iter, body, (zero, zero, jnp.zeros((h, w), jnp.int32)))[2]


def recurrence(x, a):
    # static trip count: fori_loop lowers to a scan, so reverse mode works
    return lax.fori_loop(0, pc.RECUR["steps"], lambda _, s: jnp.sin(s) * a + 0.1 * x, x)


def matmul(A, B):
    return A @ B


def mlp_loss(params, x, labels, act):
    h = x
    for W, b in params[:-1]:
        h = act(h @ W + b)
    W, b = params[-1]
    logp = jax.nn.log_softmax(h @ W + b)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


def sgd_step(params, x, labels, act, lr):
    loss, grads = jax.value_and_grad(mlp_loss)(params, x, labels, act)
    return loss, jax.tree.map(lambda p, g: p - lr * g, params, grads)


# --- the scalar losses of the .grad kernels ------------------------------------------
def chain_loss(x, y):
    return jnp.sum(chain(x, y))


def stencil_loss(u):
    return jnp.sum(stencil(u) ** 2)


def matmul_loss(A, B):
    return jnp.sum((A @ B) ** 2)


# --- running and timing --------------------------------------------------------------
def timed(fn, args, timing):
    """(first_call_ms, run_us, first result) of jax.jit(fn)(*args): a fresh jit
    object, with JAX's in-memory caches cleared so nothing traced or compiled
    earlier is reused."""
    jax.clear_caches()
    box = {}

    def build_and_run():
        box["f"] = jax.jit(fn)
        box["out"] = jax.block_until_ready(box["f"](*args))

    first = pc.first_call_ms(build_and_run)
    f = box["f"]
    run = pc.median_us(lambda: jax.block_until_ready(f(*args)), **timing)
    return first, run, box["out"]


def run_simple(results, kernel, fn, args, timing, loss=None, note=""):
    first, run, out = timed(fn, args, timing)
    if not isinstance(out, tuple):
        out = (out,)
    primal_us = None
    if loss is not None:  # a .grad kernel: the loss's own time, jit-compiled the same way
        lf = jax.jit(loss)
        primal_us = pc.median_us(lambda: jax.block_until_ready(lf(*args)), **timing)
    results.ok(kernel, first_call_ms=first, run_us=run, primal_us=primal_us,
               outputs={name: np.asarray(v) for name, v in zip(pc.OUTPUTS[kernel], out)}, note=note)


def run_mlp(results, kernel, inputs, timing):
    spec = pc.MLPS[kernel]
    layers = len(spec["widths"]) - 1
    params = [(inputs[f"{kernel}.W{l}"], inputs[f"{kernel}.b{l}"]) for l in range(layers)]
    x, labels = inputs[f"{kernel}.x"], inputs[f"{kernel}.labels"]
    act = {"relu": jax.nn.relu, "tanh": jnp.tanh}[spec["act"]]
    step = functools.partial(sgd_step, act=act, lr=spec["lr"])

    jax.clear_caches()
    box = {}

    def build_and_run():
        box["f"] = jax.jit(step)
        box["out"] = jax.block_until_ready(box["f"](params, x, labels))

    first = pc.first_call_ms(build_and_run)
    f, (loss, new) = box["f"], box["out"]
    state = [new]  # training goes on from the first step's parameters

    def train_step():
        _, state[0] = jax.block_until_ready(f(state[0], x, labels))

    run = pc.median_us(train_step, **timing)
    outputs = {"loss": np.asarray(loss)}
    for l, (W, b) in enumerate(new):
        outputs[f"W{l}"], outputs[f"b{l}"] = np.asarray(W), np.asarray(b)
    results.ok(kernel, first_call_ms=first, run_us=run, outputs=outputs,
               note="plain SGD in a jitted (params, x, labels) -> (loss, new_params), no buffer donation")


def main(argv):
    ap = argparse.ArgumentParser(description="JAX's side of scripts/bench --peers")
    ap.add_argument("workdir")
    ap.add_argument("--quick", action="store_true", help="short timings (a few seconds in all)")
    ap.add_argument("--only", default=",".join(pc.KERNELS), help="comma-separated kernels")
    opt = ap.parse_args(argv)
    workdir, quick, only = opt.workdir, opt.quick, opt.only.split(",")
    unknown = set(only) - set(pc.KERNELS)
    if unknown:
        ap.error(f"unknown kernels {sorted(unknown)}")
    timing = dict(min_seconds=0.05, min_samples=3) if quick else {}

    pc.make_inputs(workdir)
    ind = os.path.join(workdir, "inputs")
    inputs = {f[:-4]: jnp.asarray(np.load(os.path.join(ind, f)))
              for f in sorted(os.listdir(ind)) if f.endswith(".npy")}
    x, y, u, A, B = (inputs[k] for k in ("x", "y", "u", "A", "B"))
    m = pc.MANDEL
    # scalars are run-time arguments, so XLA cannot constant-fold the loops away
    mandel_args = tuple(jnp.asarray(m[k], jnp.float64) for k in ("x0", "y0", "step"))
    rx, ra = jnp.asarray(pc.RECUR["x"], jnp.float64), jnp.asarray(pc.RECUR["a"], jnp.float64)

    # Start the CPU backend and the compiler once (process start-up, like import):
    # otherwise the first kernel's first_call_ms would carry it.
    jax.block_until_ready(jax.jit(lambda t: t + 1)(jnp.float32(0)))

    r = pc.Results(workdir, "jax", version=f"jax {jax.__version__}, jaxlib {jaxlib.__version__}", threads=1,
                   notes="jax.jit on XLA:CPU; XLA_FLAGS=" + os.environ["XLA_FLAGS"]
                   + "; pinned to one core (sched_setaffinity) because XLA:CPU sizes its thread pool"
                   " by the affinity mask; persistent compilation cache off and jax.clear_caches()"
                   " before each first call; backend start-up excluded from first_call_ms")
    mandel_k = functools.partial(mandel, w=m["w"], h=m["h"], max_iter=m["max_iter"])
    kernels = {
        "saxpy": lambda: run_simple(r, "saxpy", saxpy, (x, y), timing),
        "chain": lambda: run_simple(r, "chain", chain, (x, y), timing),
        "dot": lambda: run_simple(r, "dot", dot, (x, y), timing),
        "stencil": lambda: run_simple(r, "stencil", stencil, (u,), timing),
        "mandel": lambda: run_simple(r, "mandel", mandel_k, mandel_args, timing,
                                     note="masked lax.fori_loop over the whole grid: max_iter steps, no early exit"),
        "recurrence": lambda: run_simple(r, "recurrence", recurrence, (rx, ra), timing),
        "matmul": lambda: run_simple(r, "matmul", matmul, (A, B), timing),
        "mlp_large": lambda: run_mlp(r, "mlp_large", inputs, timing),
        "mlp_small": lambda: run_mlp(r, "mlp_small", inputs, timing),
        "chain.grad": lambda: run_simple(r, "chain.grad", jax.grad(chain_loss), (x, y), timing, loss=chain_loss),
        "dot.grad": lambda: run_simple(r, "dot.grad", jax.grad(dot, argnums=(0, 1)), (x, y), timing, loss=dot),
        "stencil.grad": lambda: run_simple(r, "stencil.grad", jax.grad(stencil_loss), (u,), timing, loss=stencil_loss,
                                              note="primal: XLA:CPU runs the sliced sum of squares as a YNNPACK"
                                                   " fusion, far slower than the stencil itself"),
        "matmul.grad": lambda: run_simple(r, "matmul.grad", jax.grad(matmul_loss, argnums=(0, 1)), (A, B), timing,
                                          loss=matmul_loss),
        "recurrence.grad": lambda: run_simple(r, "recurrence.grad", jax.grad(recurrence, argnums=(0, 1)), (rx, ra),
                                              timing, loss=recurrence),
    }
    assert list(kernels) == pc.KERNELS
    for k in pc.KERNELS:
        if k in only:
            pc.run_guarded(r, k, kernels[k])
            e = r.data["kernels"][k]
            if e["status"] == "ok":
                extra = f", primal {e['primal_us']:.1f} us" if "primal_us" in e else ""
                print(f"jax: {k}: first call {e['first_call_ms']:.1f} ms, run {e['run_us']:.1f} us{extra}")
    print(r.write())


if __name__ == "__main__":
    main(sys.argv[1:])
