#!/usr/bin/env python3
"""Dr.Jit peer of `scripts/bench --peers` (see README.md for the kernels).

    python drjit_peer.py WORKDIR [--quick] [--only k1,k2,...]

Dr.Jit's LLVM backend (drjit.llvm.ad types) on one thread. Every timed call
traces the Python function, looks the kernel up in Dr.Jit's in-memory cache,
launches it and waits (dr.eval + dr.sync_thread): that per-call tracing is
how Dr.Jit is used and is part of run_us.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402

# The on-disk kernel cache (~/.drjit by default) goes to a fresh folder, read
# once at jit_init: it must be set before drjit is imported. It is emptied (and
# the in-memory cache flushed) before each kernel's first call, so no first
# call finds a kernel compiled before.
CACHE_DIR = tempfile.mkdtemp(prefix="drjit-peer-cache-")
os.environ["DRJIT_CACHE_DIR"] = CACHE_DIR

import numpy as np  # noqa: E402
import drjit as dr  # noqa: E402
from drjit.llvm.ad import Float, Float64, Int, UInt32, TensorXf  # noqa: E402

SYSTEM = "drjit"


# --- the kernels: one short function each, as in README.md's table ----------------
def saxpy(x, y):
    return pc.SAXPY_A * x + y


def chain(x, y):
    return dr.sqrt(dr.fma(x, y, 1.0)) * x + y


def dot(x, y):
    return dr.sum(x * y)  # evaluates x*y, then Dr.Jit's reduction kernel


def stencil(u):
    G = pc.GRID
    j, i = dr.meshgrid(dr.arange(Int, G), dr.arange(Int, G))  # i: row, j: column
    idx = i * G + j
    inside = (i > 0) & (i < G - 1) & (j > 0) & (j < G - 1)

    def at(d):  # masked gather: reads 0 outside `inside`, so the border is 0
        return dr.gather(Float64, u, idx + d, inside)

    return 0.5 * at(0) + 0.125 * (at(-1) + at(1) + at(-G) + at(G))


def mandel():
    m = pc.MANDEL
    px, py = dr.meshgrid(dr.arange(Float64, m["w"]), dr.arange(Float64, m["h"]))  # px fastest
    cr, ci = m["x0"] + px * m["step"], m["y0"] + py * m["step"]
    zero = dr.zeros(Float64, m["w"] * m["h"])

    def cond(zr, zi, k):
        return (k < m["max_iter"]) & (zr * zr + zi * zi <= 4.0)

    def body(zr, zi, k):
        return zr * zr - zi * zi + cr, 2.0 * zr * zi + ci, k + 1

    # symbolic loop: one kernel, each SIMD lane iterates until its pixel escapes
    _, _, k = dr.while_loop((zero, zero, dr.zeros(Int, m["w"] * m["h"])), cond, body)
    return k


def recurrence(x, a):
    def body(s, i):
        return dr.sin(s) * a + 0.1 * x, i + 1

    # max_iterations: the bound reverse-mode AD needs to store the loop's states
    s, _ = dr.while_loop((Float64(x), Int(0)), lambda s, i: i < pc.RECUR["steps"], body,
                         max_iterations=pc.RECUR["steps"])
    return s


def matmul(A, B):
    return A @ B  # TensorXf @: Dr.Jit's built-in (precompiled, tiled) GEMM


def cross_entropy(logits, labels):
    B, C = logits.shape
    m = dr.detach(dr.max(logits, axis=1, keepdims=True))  # [B, 1] stabiliser, a constant for AD
    lse = dr.log(dr.sum(dr.exp(logits - m), axis=1, keepdims=True)) + m  # [B, 1] log-sum-exp
    picked = dr.gather(Float, logits.array, dr.arange(UInt32, B) * C + labels)
    return dr.mean(lse.array - picked)


def mlp_step(params, x, labels, act, lr):
    """One SGD step; params = [W0, b0, W1, b1, ...] (TensorXf), returns (loss, new params)."""
    params = [dr.detach(p) for p in params]
    dr.enable_grad(params)
    h = x
    for l in range(0, len(params), 2):
        h = h @ params[l] + params[l + 1]  # [batch, in] @ [in, out] + [out] (broadcast)
        if l + 2 < len(params):
            h = act(h)
    loss = cross_entropy(h, labels)
    dr.backward(loss)
    return dr.detach(loss), [dr.detach(p) - lr * dr.grad(p) for p in params]


# gradients: the scalar losses of README.md's .grad rows
def chain_loss(x, y):
    return dr.sum(chain(x, y))


def dot_loss(x, y):
    return dot(x, y)


def stencil_loss(u):
    v = stencil(u)
    return dr.sum(v * v)


def matmul_loss(A, B):
    c = matmul(A, B)
    return dr.sum(c * c, axis=None)


def recurrence_loss(x, a):
    return recurrence(x, a)


def grad_of(loss_fn, wrt, *args):
    """Reverse-mode gradients of loss_fn(*args) w.r.t. the args indexed by `wrt`."""
    args = [dr.detach(a) if i in wrt else a for i, a in enumerate(args)]  # fresh AD leaves
    dr.enable_grad([args[i] for i in wrt])
    dr.backward(loss_fn(*args))
    return [dr.grad(args[i]) for i in wrt]


# --- driver -------------------------------------------------------------------------
def ready(value):
    """Evaluates `value` (an array or a list of them) and waits for it."""
    dr.eval(value)
    dr.sync_thread()
    return value


def fresh_caches():
    """No kernel compiled before: empty the disk cache and flush the in-memory one."""
    dr.flush_kernel_cache()
    for name in os.listdir(CACHE_DIR):
        p = os.path.join(CACHE_DIR, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def measure(call, timing):
    """(first result, first_call_ms, run_us) of call(), which blocks until ready."""
    fresh_caches()
    box = []
    ms = pc.first_call_ms(lambda: box.append(call()))
    return box[0], ms, pc.median_us(call, **timing)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    workdir = args[0]
    quick = "--quick" in args
    only = None
    if "--only" in args:
        only = set(args[args.index("--only") + 1].split(","))
        unknown = only - set(pc.KERNELS)
        if unknown:
            sys.exit(f"unknown kernels: {sorted(unknown)}")
    timing = dict(min_seconds=0.05, min_samples=3) if quick else {}

    dr.set_thread_count(1)  # 1: no worker threads, everything runs on the calling thread
    ready(dr.arange(Float, 8) * 2.0)  # one-time LLVM start-up (like import), not any kernel's first call
    pc.make_inputs(workdir)
    inp = lambda name: np.load(os.path.join(workdir, "inputs", f"{name}.npy"))  # noqa: E731
    R = pc.Results(workdir, SYSTEM, version=dr.__version__, threads=dr.thread_count(),
                   notes=f"drjit.llvm.ad on LLVM {'.'.join(map(str, dr.detail.llvm_version()))}, "
                         f"dr.set_thread_count(1), kernel cache in a fresh emptied folder "
                         f"(DRJIT_CACHE_DIR) and dr.flush_kernel_cache() before each first call; "
                         f"run_us includes Python tracing per call (no dr.freeze)")

    x, y = Float(inp("x")), Float(inp("y"))
    u = Float64(inp("u").ravel())
    A, B = TensorXf(inp("A")), TensorXf(inp("B"))
    rx, ra = dr.opaque(Float64, pc.RECUR["x"]), dr.opaque(Float64, pc.RECUR["a"])  # runtime values, not literals

    def primal(kernel, name, call, shape, note=""):
        out, ms, us = measure(lambda: ready(call()), timing)
        R.ok(kernel, ms, us, {name: out.numpy().reshape(shape)}, note=note)

    def gradient(kernel, loss, wrt, args, names, shapes):
        grads, ms, us = measure(lambda: ready(grad_of(loss, wrt, *args)), timing)
        _, _, primal_us = measure(lambda: ready(loss(*args)), timing)
        R.ok(kernel, ms, us, {n: g.numpy().reshape(s) for n, g, s in zip(names, grads, shapes)},
             primal_us=primal_us)

    def mlp(kernel):
        spec = pc.MLPS[kernel]
        L = len(spec["widths"]) - 1
        names = [f"{p}{l}" for l in range(L) for p in ("W", "b")]
        params = [TensorXf(inp(f"{kernel}.{n}")) for n in names]
        xb, labels = TensorXf(inp(f"{kernel}.x")), UInt32(inp(f"{kernel}.labels").astype(np.uint32))
        act = (lambda h: dr.maximum(h, 0.0)) if spec["act"] == "relu" else dr.tanh

        def step():  # training: each call starts from the previous call's parameters
            nonlocal params
            loss, params = ready(mlp_step(params, xb, labels, act, spec["lr"]))
            return loss, params

        (loss, new), ms, us = measure(step, timing)
        outs = {"loss": loss.numpy().reshape(())}
        outs.update({n: p.numpy() for n, p in zip(names, new)})
        R.ok(kernel, ms, us, outs, note="one SGD step; run_us times repeated steps")

    N, G, M = pc.N, pc.GRID, pc.MANDEL
    jobs = {
        "saxpy": lambda: primal("saxpy", "z", lambda: saxpy(x, y), (N,)),
        "chain": lambda: primal("chain", "z", lambda: chain(x, y), (N,)),
        "dot": lambda: primal("dot", "s", lambda: dot(x, y), ()),
        "stencil": lambda: primal("stencil", "v", lambda: stencil(u), (G, G)),
        "mandel": lambda: primal("mandel", "count", mandel, (M["h"], M["w"])),
        "recurrence": lambda: primal("recurrence", "s", lambda: recurrence(rx, ra), ()),
        "matmul": lambda: primal("matmul", "c", lambda: matmul(A, B), (pc.MAT, pc.MAT),
                                  note="TensorXf @ runs Dr.Jit's precompiled GEMM: nothing is JIT-compiled"),
        "mlp_large": lambda: mlp("mlp_large"),
        "mlp_small": lambda: mlp("mlp_small"),
        "chain.grad": lambda: gradient("chain.grad", chain_loss, [0], (x, y), ["gx"], [(N,)]),
        "dot.grad": lambda: gradient("dot.grad", dot_loss, [0, 1], (x, y), ["gx", "gy"], [(N,), (N,)]),
        "stencil.grad": lambda: gradient("stencil.grad", stencil_loss, [0], (u,), ["gu"], [(G, G)]),
        "matmul.grad": lambda: gradient("matmul.grad", matmul_loss, [0, 1], (A, B), ["ga", "gb"],
                                        [(pc.MAT, pc.MAT)] * 2),
        "recurrence.grad": lambda: gradient("recurrence.grad", recurrence_loss, [0, 1], (rx, ra),
                                            ["gx", "ga"], [(), ()]),
    }
    assert set(jobs) == set(pc.KERNELS)
    for kernel in pc.KERNELS:
        if only is None or kernel in only:
            pc.run_guarded(R, kernel, jobs[kernel])
    print(R.write())


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)

