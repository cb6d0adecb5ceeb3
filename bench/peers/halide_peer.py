"""Halide's side of `scripts/bench --peers` (README.md has the kernels' maths).

    python halide_peer.py WORKDIR [--quick] [--only k1,k2,...]

Every kernel is a Halide pipeline defined here, JIT-compiled once for the
host (Pipeline.compile_jit) and timed through realize() into preallocated
hl.Buffers that wrap numpy arrays. Inputs are hl.Buffers wrapping the numpy
inputs (passed by reference at each call, not baked in). Primal kernels carry
a hand-written one-thread schedule (vectorised by the natural vector width,
no .parallel); gradients come from Halide's autodiff (hl.propagate_adjoints)
and are scheduled by the Li2018 autoscheduler (the one written for autodiff
pipelines) with parallelism=1: it still emits .parallel() loops, which run on
the one runtime thread (HL_NUM_THREADS=1). Halide has no on-disk compilation
cache: compile_jit compiles in process every time.
"""
import os
import sys

os.environ["HL_NUM_THREADS"] = "1"  # the runtime's thread pool: one thread (must precede the import)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc  # noqa: E402
import numpy as np  # noqa: E402
import halide as hl  # noqa: E402

SYSTEM = "halide"
TARGET = hl.get_jit_target_from_environment()  # the host (HL_JIT_TARGET unset) plus the jit feature
VF32 = TARGET.natural_vector_size(hl.Float(32))  # 16 with AVX-512
VF64 = TARGET.natural_vector_size(hl.Float(64))  # 8
_LI2018 = os.path.join(os.path.dirname(hl.__file__), "lib64", "libautoschedule_li2018.so")


def f64(v):
    # A bare Python float becomes a float32 Expr in Halide's Python bindings.
    return hl.f64(v)


def autoschedule(pipeline):
    """The gradient autoscheduler (Li et al. 2018), told to use one core."""
    pipeline.apply_autoscheduler(TARGET, hl.AutoschedulerParams("Li2018", {"parallelism": "1"}))


class Peer:
    def __init__(self, workdir, quick):
        self.workdir = workdir
        self.timing = dict(min_seconds=0.05, min_samples=3) if quick else {}
        self.results = pc.Results(workdir, SYSTEM, version=hl_version(), threads=1, notes=NOTES)

    def load(self, name):
        return np.load(os.path.join(self.workdir, "inputs", name + ".npy"))

    def measure(self, kernel, build, outputs, primal=None):
        """build() defines, schedules and compiles a pipeline, realizes it once
        and returns the call to time; primal (for .grad kernels) is the same
        for the scalar loss alone."""
        holder = []
        first = pc.first_call_ms(lambda: holder.append(build()))
        call = holder[0]
        outs = {k: np.copy(v) for k, v in outputs.items()}  # the first call's results
        run = pc.median_us(call, **self.timing)
        primal_us = pc.median_us(primal(), **self.timing) if primal else None
        self.results.ok(kernel, first_call_ms=first, run_us=run, outputs=outs, primal_us=primal_us)


def hl_version():
    from importlib.metadata import version
    return version("halide")


NOTES = ("Halide JIT (Python bindings), HL_NUM_THREADS=1, no disk cache exists; "
         "primal kernels hand-scheduled (vectorize by the natural width, no .parallel); "
         "gradients by hl.propagate_adjoints, scheduled by the Li2018 autoscheduler with parallelism=1 "
         "(its .parallel loops run on the single runtime thread); mandel iterates all max_iter steps "
         "for every pixel (no data-dependent loop in Halide) and counts the first escape with argmin.")


# --- the kernels: each defines its pipeline, compiles it and returns the call ----------------
def saxpy(P):
    x, y = P.load("x"), P.load("y")
    z = np.empty_like(x)

    def build():
        X, Y, Z = hl.Buffer(x, "x"), hl.Buffer(y, "y"), hl.Buffer(z, "z")
        a = hl.Param(hl.Float(32), "a", pc.SAXPY_A)
        i = hl.Var("i")
        f = hl.Func("saxpy")
        f[i] = a * X[i] + Y[i]
        f.vectorize(i, VF32)
        f.compile_jit(TARGET)
        f.realize(Z)
        return lambda: f.realize(Z)
    P.measure("saxpy", build, {"z": z})


def chain(P):
    x, y = P.load("x"), P.load("y")
    z = np.empty_like(x)

    def build():
        X, Y, Z = hl.Buffer(x, "x"), hl.Buffer(y, "y"), hl.Buffer(z, "z")
        i = hl.Var("i")
        f = hl.Func("chain")
        f[i] = hl.sqrt(X[i] * Y[i] + 1) * X[i] + Y[i]  # no fma() in Halide's Python API; LLVM contracts it
        f.vectorize(i, VF32)
        f.compile_jit(TARGET)
        f.realize(Z)
        return lambda: f.realize(Z)
    P.measure("chain", build, {"z": z})


def dot(P):
    x, y = P.load("x"), P.load("y")
    s = np.zeros((), np.float32)

    def build():
        X, Y, S = hl.Buffer(x, "x"), hl.Buffer(y, "y"), hl.Buffer(s, "s")
        r = hl.RDom([(0, x.size)], "r")
        f = hl.Func("dot")
        f[()] = hl.f32(0)
        f[()] += X[r.x] * Y[r.x]
        # rfactor: VF32 partial sums (one vector accumulator), then their sum.
        ro, ri = hl.RVar("ro"), hl.RVar("ri")
        u = hl.Var("u")
        f.update().split(r.x, ro, ri, VF32)
        part = f.update().rfactor(ri, u)
        part.compute_root().vectorize(u)
        part.update().vectorize(u)
        f.compile_jit(TARGET)
        f.realize(S)
        return lambda: f.realize(S)
    P.measure("dot", build, {"s": s})


def stencil_def(U, G):
    """v over the whole grid: the 5-point stencil inside, 0 on the border.
    Halide buffers from numpy reverse the axes: x is the column j, y the row i."""
    x, y = hl.Var("x"), hl.Var("y")
    uc = hl.BoundaryConditions.constant_exterior(U, f64(0))  # keeps the border's (discarded) neighbour loads in bounds
    inside = (x > 0) & (x < G - 1) & (y > 0) & (y < G - 1)
    v = hl.Func("v")
    v[x, y] = hl.select(inside,
                        f64(0.5) * uc[x, y] + f64(0.125) * (uc[x - 1, y] + uc[x + 1, y] + uc[x, y - 1] + uc[x, y + 1]),
                        f64(0))
    return v, x, y


def stencil(P):
    u = P.load("u")
    v = np.empty_like(u)

    def build():
        U, V = hl.Buffer(u, "u"), hl.Buffer(v, "v")
        f, x, y = stencil_def(U, u.shape[0])
        f.vectorize(x, VF64)
        f.compile_jit(TARGET)
        f.realize(V)
        return lambda: f.realize(V)
    P.measure("stencil", build, {"v": v})


def mandel(P):
    m = pc.MANDEL
    count = np.zeros((m["h"], m["w"]), np.int32)

    def build():
        C = hl.Buffer(count, "count")
        # x0, y0, step are exact in float32: Param.set() from Python goes through float32.
        x0, y0, step = (hl.Param(hl.Float(64), n, m[n]) for n in ("x0", "y0", "step"))
        x, y, t = hl.Var("x"), hl.Var("y"), hl.Var("t")
        cr, ci = x0 + hl.f64(x) * step, y0 + hl.f64(y) * step
        # Halide's tutorial Mandelbrot: z over (x, y, t), t = 0 .. max_iter, all steps computed.
        z = hl.Func("z")
        z[x, y, t] = (f64(0), f64(0))
        r = hl.RDom([(1, m["max_iter"])], "r")
        zr, zi = z[x, y, r - 1][0], z[x, y, r - 1][1]
        z[x, y, r] = (zr * zr - zi * zi + cr, f64(2) * zr * zi + ci)
        bounded = z[x, y, r][0] * z[x, y, r][0] + z[x, y, r][1] * z[x, y, r][1] <= f64(4)
        first = hl.argmin(bounded)  # the first r where |z_r|^2 > 4 (false < true)
        f = hl.Func("mandel")
        f[x, y] = hl.select(first[1], m["max_iter"], first[0])  # still bounded at every step: max_iter
        xo, xi = hl.Var("xo"), hl.Var("xi")
        f.split(x, xo, xi, VF64).vectorize(xi)
        z.compute_at(f, xo).vectorize(x)  # z's history for one vector of pixels (8 x 257 x 2 doubles)
        z.update().reorder(x, y, r.x).vectorize(x)
        f.compile_jit(TARGET)
        f.realize(C)
        return lambda: f.realize(C)
    P.measure("mandel", build, {"count": count})


def recurrence_def(X, A, steps):
    """s_0 = x, s_{k+1} = sin(s_k) a + 0.1 x as a scan over t (Halide keeps the
    history, which its autodiff needs); the result is s(steps). X, A are
    1-element buffers."""
    t = hl.Var("t")
    x, a = X[hl.Expr(0)], A[hl.Expr(0)]
    s = hl.Func("s")
    s[t] = f64(0)
    s[0] = x
    r = hl.RDom([(0, steps)], "r")
    s[r.x + 1] = hl.sin(s[r.x]) * a + f64(0.1) * x  # written s(r+1) = g(s(r)): s(r) = g(s(r-1)) over r >= 1 gives zero gradients
    out = hl.Func("recurrence")
    out[()] = s[steps]
    return out, s


def recurrence(P):
    # 1-element buffers, not hl.Param: Param.set() from Python rounds 0.3 through float32 (Halide 21).
    xs, as_ = np.array([pc.RECUR["x"]]), np.array([pc.RECUR["a"]])
    res = np.zeros((), np.float64)

    def build():
        X, A, S = hl.Buffer(xs, "x"), hl.Buffer(as_, "a"), hl.Buffer(res, "s")
        f, s = recurrence_def(X, A, pc.RECUR["steps"])
        s.compute_root()
        f.compile_jit(TARGET)
        f.realize(S)
        return lambda: f.realize(S)
    P.measure("recurrence", build, {"s": res})


def matmul_def(A, B, n):
    """c(j, i) = sum_k A(k, i) B(j, k) (numpy's c[i, j] = sum_k A[i, k] B[k, j])."""
    x, y = hl.Var("x"), hl.Var("y")
    k = hl.RDom([(0, n)], "k")
    prod = hl.Func("prod")
    prod[x, y] = hl.f32(0)
    prod[x, y] += A[k.x, y] * B[x, k.x]
    c = hl.Func("matmul")
    c[x, y] = prod[x, y]
    return c, prod, x, y, k


def matmul(P):
    a, b = P.load("A"), P.load("B")
    c = np.zeros((pc.MAT, pc.MAT), np.float32)

    def build():
        A, B, C = hl.Buffer(a, "A"), hl.Buffer(b, "B"), hl.Buffer(c, "c")
        f, prod, x, y, k = matmul_def(A, B, pc.MAT)
        # Register blocking: 8 rows x 2 vectors of accumulators per tile, k outside them.
        xo, yo, xi, yi = hl.Var("xo"), hl.Var("yo"), hl.Var("xi"), hl.Var("yi")
        f.tile(x, y, xo, yo, xi, yi, 2 * VF32, 8).vectorize(xi, VF32).unroll(xi).unroll(yi)
        prod.compute_at(f, xo).vectorize(x, VF32).unroll(x).unroll(y)
        prod.update().reorder(x, y, k.x).vectorize(x, VF32).unroll(x).unroll(y)
        f.compile_jit(TARGET)
        f.realize(C)
        return lambda: f.realize(C)
    P.measure("matmul", build, {"c": c})


# --- gradients: hl.propagate_adjoints of a scalar loss, Li2018-scheduled -----------------------
def grad_kernel(P, kernel, loss_def, inputs, grads):
    """inputs: name -> numpy array (wrapped as hl.Buffers); loss_def(bufs) ->
    the scalar loss Func; grads: output name -> input name it differentiates."""
    outs = {g: np.zeros_like(inputs[src]) for g, src in grads.items()}

    def build():
        bufs = {n: hl.Buffer(v, n) for n, v in inputs.items()}
        loss = loss_def(bufs)
        d = hl.propagate_adjoints(loss)
        funcs = []
        for g, src in grads.items():
            f = d[bufs[src]]
            f.set_estimates([(0, bufs[src].dim(i).extent()) for i in range(bufs[src].dimensions())])
            funcs.append(f)
        p = hl.Pipeline(funcs)
        autoschedule(p)
        p.compile_jit(TARGET)
        dst = [hl.Buffer(outs[g], g) for g in grads]
        p.realize(dst)

        def call():
            p.realize(dst)
        call.keep = (loss, d)  # Halide 21's autoscheduler segfaults if the loss Func has been freed
        return call

    def primal():
        bufs = {n: hl.Buffer(v, n) for n, v in inputs.items()}
        loss = loss_def(bufs)
        val = np.zeros((), outs[next(iter(outs))].dtype)
        L = hl.Buffer(val, "loss")
        p = hl.Pipeline(loss)
        autoschedule(p)
        p.compile_jit(TARGET)
        return lambda: p.realize(L)
    P.measure(kernel, build, outs, primal=primal)


def sum_over(f, n, dtype_zero):
    """loss() = sum of f over [0, n)."""
    r = hl.RDom([(0, n)], "r")
    loss = hl.Func("loss")
    loss[()] = dtype_zero
    loss[()] += f(r.x)
    return loss


def chain_grad(P):
    x, y = P.load("x"), P.load("y")

    def loss_def(b):
        X, Y = b["x"], b["y"]
        i = hl.Var("i")
        ch = hl.Func("chain")
        ch[i] = hl.sqrt(X[i] * Y[i] + 1) * X[i] + Y[i]
        return sum_over(lambda r: ch[r], x.size, hl.f32(0))
    grad_kernel(P, "chain.grad", loss_def, {"x": x, "y": y}, {"gx": "x"})


def dot_grad(P):
    x, y = P.load("x"), P.load("y")

    def loss_def(b):
        X, Y = b["x"], b["y"]
        return sum_over(lambda r: X[r] * Y[r], x.size, hl.f32(0))
    grad_kernel(P, "dot.grad", loss_def, {"x": x, "y": y}, {"gx": "x", "gy": "y"})


def stencil_grad(P):
    u = P.load("u")
    G = u.shape[0]

    def loss_def(b):
        v, _, _ = stencil_def(b["u"], G)
        r = hl.RDom([(0, G), (0, G)], "r")
        loss = hl.Func("loss")
        loss[()] = f64(0)
        loss[()] += v[r.x, r.y] * v[r.x, r.y]
        return loss
    grad_kernel(P, "stencil.grad", loss_def, {"u": u}, {"gu": "u"})


def matmul_grad(P):
    a, b = P.load("A"), P.load("B")
    n = pc.MAT

    def loss_def(bufs):
        c, _, _, _, _ = matmul_def(bufs["A"], bufs["B"], n)
        r = hl.RDom([(0, n), (0, n)], "r")
        loss = hl.Func("loss")
        loss[()] = hl.f32(0)
        loss[()] += c[r.x, r.y] * c[r.x, r.y]
        return loss
    grad_kernel(P, "matmul.grad", loss_def, {"A": a, "B": b}, {"ga": "A", "gb": "B"})


def recurrence_grad(P):
    xs, as_ = np.array([pc.RECUR["x"]]), np.array([pc.RECUR["a"]])

    def loss_def(b):
        return recurrence_def(b["x"], b["a"], pc.RECUR["steps"])[0]
    grad_kernel(P, "recurrence.grad", loss_def, {"x": xs, "a": as_}, {"gx": "x", "ga": "a"})


def mlp_step_def(params, X, labels, spec):
    """One SGD step's Funcs: [loss, p - lr dloss/dp for p in params].
    params: the ImageParams W0, b0, W1, b1, ...; Halide's axes are numpy's
    reversed: X(i, b), W(o, i), h(o, b), logits(c, b)."""
    widths, act, batch = spec["widths"], spec["act"], spec["batch"]
    o, b = hl.Var("o"), hl.Var("b")
    h = hl.Func(X)
    for l in range(len(widths) - 1):
        W, bias = params[2 * l], params[2 * l + 1]
        k = hl.RDom([(0, widths[l])], f"k{l}")
        z = hl.Func(f"z{l}")
        z[o, b] = bias[o]
        z[o, b] += h[k.x, b] * W[o, k.x]
        if l == len(widths) - 2:
            h = z
        else:
            h = hl.Func(f"h{l}")
            h[o, b] = hl.max(z[o, b], hl.f32(0)) if act == "relu" else hl.tanh(z[o, b])
    logits, C = h, widths[-1]
    # softmax cross-entropy; the max over classes is unrolled: autodiff rejects hl.maximum's update.
    m = hl.Func("m")
    m_e = logits[0, b]
    for c in range(1, C):
        m_e = hl.max(m_e, logits[c, b])
    m[b] = m_e
    rc = hl.RDom([(0, C)], "rc")
    lse = hl.Func("lse")
    lse[b] = m[b] + hl.log(hl.sum(hl.exp(logits[rc.x, b] - m[b])))
    rb = hl.RDom([(0, batch)], "rb")
    loss = hl.Func("loss")
    loss[()] = hl.f32(0)
    loss[()] += (lse[rb.x] - logits[hl.clamp(labels[rb.x], 0, C - 1), rb.x]) / hl.f32(batch)
    d = hl.propagate_adjoints(loss)
    new = []
    for p in params:
        f = hl.Func(p.name() + "_new")
        vs = [hl.Var(f"v{i}") for i in range(p.dimensions())]
        f[vs] = p[vs] - hl.f32(spec["lr"]) * d[hl.Func(p)][vs]
        new.append(f)
    return [loss] + new, d


def mlp(P, name):
    spec = pc.MLPS[name]
    nl = len(spec["widths"]) - 1
    pnames = [f"{k}{l}" for l in range(nl) for k in ("W", "b")]
    x, labels = P.load(f"{name}.x"), P.load(f"{name}.labels")
    # Two parameter sets: a step reads one and writes the other (ping-pong).
    sets = [[P.load(f"{name}.{n}") for n in pnames], None]
    sets[1] = [np.empty_like(a) for a in sets[0]]
    loss = np.zeros((), np.float32)
    first = {}

    def build():
        X, L = hl.Buffer(x, "x"), hl.Buffer(labels, "labels")
        params = [hl.ImageParam(hl.Float(32), a.ndim, n) for n, a in zip(pnames, sets[0])]
        for p, a in zip(params, sets[0]):
            p.set_estimates([(0, e) for e in reversed(a.shape)])
        outs, d = mlp_step_def(params, X, L, spec)
        for f, a in zip(outs[1:], sets[0]):
            f.set_estimates([(0, e) for e in reversed(a.shape)])
        pipe = hl.Pipeline(outs)
        autoschedule(pipe)
        pipe.compile_jit(TARGET)
        hb = [[hl.Buffer(a) for a in s] for s in sets]
        state = {"cur": 0}
        lossb = hl.Buffer(loss)

        def step():
            cur = state["cur"]
            for p, buf in zip(params, hb[cur]):
                p.set(buf)
            pipe.realize([lossb] + hb[1 - cur])
            state["cur"] = 1 - cur
        step()
        first.update({"loss": np.copy(loss)}, **{n: np.copy(a) for n, a in zip(pnames, sets[1])})
        step.keep = (outs, d)  # keep the Funcs alive (see grad_kernel)
        return step
    P.measure(name, build, first)


KERNELS = {
    "saxpy": saxpy, "chain": chain, "dot": dot, "stencil": stencil, "mandel": mandel,
    "recurrence": recurrence, "matmul": matmul,
    "mlp_large": lambda P: mlp(P, "mlp_large"), "mlp_small": lambda P: mlp(P, "mlp_small"),
    "chain.grad": chain_grad, "dot.grad": dot_grad, "stencil.grad": stencil_grad,
    "matmul.grad": matmul_grad, "recurrence.grad": recurrence_grad,
}


def warm_up():
    """Halide builds its shared JIT runtime (LLVM init, runtime modules) on
    the first compile of the process; done here once so that it does not
    land in whichever kernel comes first. Returns its milliseconds."""
    def run():
        i = hl.Var("i")
        f = hl.Func("warm_up")
        f[i] = i
        f.compile_jit(TARGET)
        f.realize(hl.Buffer(np.zeros(4, np.int32)))
    return pc.first_call_ms(run)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Halide's side of scripts/bench --peers")
    ap.add_argument("workdir")
    ap.add_argument("--quick", action="store_true", help="short timings (a few samples)")
    ap.add_argument("--only", help="comma-separated kernels to run")
    a = ap.parse_args(argv)
    only = a.only.split(",") if a.only else None
    pc.make_inputs(a.workdir)
    hl.load_plugin(_LI2018)
    P = Peer(a.workdir, a.quick)
    P.results.data["notes"] += f" One-time JIT runtime setup before the first kernel: {warm_up():.0f} ms (in no first_call_ms)."
    assert set(KERNELS) == set(pc.KERNELS), "every kernel of peers_common must be here"
    for k in pc.KERNELS:
        if only and k not in only:
            continue
        pc.run_guarded(P.results, k, lambda k=k: KERNELS[k](P))
        e = P.results.data["kernels"][k]
        print(f"{SYSTEM}: {k}: {e['status']}"
              + (f" first {e['first_call_ms']:.1f} ms, run {e['run_us']:.1f} us" if e["status"] == "ok" else f" ({e['reason']})")
              + (f", primal {e['primal_us']:.1f} us" if e.get("primal_us") is not None else ""), flush=True)
    print(P.results.write())


if __name__ == "__main__":
    main(sys.argv[1:])
