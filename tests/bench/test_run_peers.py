"""Unit tests of bench/peers/run_peers.py and peers_common.py: the
cross-check must reject wrong results, the .npy files must round-trip, and
the table must list every system that did not run with its reason.
Pure Python (unittest), run by ctest as bench.peers.driver."""
import array
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "peers"))
import peers_common as pc  # noqa: E402
import run_peers as rp  # noqa: E402


def arr(dtype, shape, values):
    return (dtype, tuple(shape), array.array(pc._CODES[dtype], values))


class Compare(unittest.TestCase):
    def test_equal_results_pass(self):
        r = arr("<f4", [4], [1.0, -2.0, 3.0, 4.0])
        self.assertIsNone(rp.compare("saxpy", "z", r, r))

    def test_last_bits_pass_a_real_difference_fails(self):
        r = arr("<f4", [3], [1.0, 2.0, 4.0])
        self.assertIsNone(rp.compare("chain", "z", r, arr("<f4", [3], [1.0, 2.0 + 1e-6, 4.0])))
        why = rp.compare("chain", "z", r, arr("<f4", [3], [1.0, 2.001, 4.0]))
        self.assertIn("element 1", why)

    def test_nan_fails(self):
        r = arr("<f8", [2], [1.0, 2.0])
        self.assertIn("element 1", rp.compare("stencil", "v", r, arr("<f8", [2], [1.0, float("nan")])))

    def test_shape_must_match(self):
        r = arr("<f4", [2, 2], [1, 2, 3, 4])
        self.assertIn("shape", rp.compare("matmul", "c", r, arr("<f4", [4, 1], [1, 2, 3, 4])))
        self.assertIn("shape", rp.compare("matmul", "c", r, arr("<f4", [3], [1, 2, 3])))

    def test_scalars_of_shape_empty_and_one_agree(self):
        self.assertIsNone(rp.compare("dot", "s", arr("<f4", [], [5.0]), arr("<f4", [1], [5.0])))

    def test_mandel_allows_a_few_boundary_pixels(self):
        r = arr("<i4", [100, 100], [7] * 10000)
        few = [7] * 10000
        few[0] = 8
        self.assertIsNone(rp.compare("mandel", "count", r, arr("<i4", [100, 100], few)))
        many = [8] * 100 + [7] * 9900
        self.assertIn("pixels differ", rp.compare("mandel", "count", r, arr("<i4", [100, 100], many)))

    def test_every_float_kernel_has_a_tolerance(self):
        for kernel in pc.KERNELS:
            if kernel != "mandel":
                self.assertIn(kernel, rp.TOLERANCES)


class Npy(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            for dtype, shape, values in [("<f4", [2, 3], [0.5, 1, 2, 3, 4, -5]), ("<f8", [], [3.25]), ("<i4", [3], [1, -2, 3])]:
                p = os.path.join(d, "a.npy")
                pc.write_npy(p, dtype, shape, values)
                got = pc.read_npy(p)
                self.assertEqual(got[0], dtype)
                self.assertEqual(got[1], tuple(shape))
                self.assertEqual(list(got[2]), [type(got[2][0])(v) for v in values])
                with open(p, "rb") as f:
                    self.assertEqual(len(f.read()) % 64, (len(values) * got[2].itemsize) % 64)  # header padded to 64


class Driver(unittest.TestCase):
    def run_driver(self, work, extra):
        return rp.main(["--work", work, "--kiln", "/nonexistent/kiln_peer", "--no-pin"] + extra)

    def test_kiln_missing_fails_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(self.run_driver(d, ["--systems", "kiln", "--only", "recurrence"]), 1)

    def test_a_wrong_result_fails_the_run_and_is_named(self):
        # A fake kiln_peer: writes the reference, a right "kiln" result and a wrong "kiln_fm" one.
        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "fake_kiln.py")
            with open(fake, "w") as f:
                f.write(f"""import json, os, sys
sys.path.insert(0, {os.path.dirname(pc.__file__)!r})
import peers_common as pc
work = sys.argv[1]
pc.write_npy(os.path.join(work, "ref", "recurrence.s.npy"), "<f8", [], [0.5])
for name, value in (("kiln", 0.5), ("kiln_fm", 0.75)):
    rel = "out/%s/recurrence.s.npy" % name
    pc.write_npy(os.path.join(work, rel), "<f8", [], [value])
    os.makedirs(os.path.join(work, "results"), exist_ok=True)
    with open(os.path.join(work, "results", name + ".json"), "w") as f:
        json.dump({{"system": name, "version": "fake", "threads": 1, "kernels": {{
            "recurrence": {{"status": "ok", "first_call_ms": 1.0, "run_us": 2.0, "outputs": {{"s": rel}}}}}}}}, f)
""")
            os.chmod(fake, 0o755)
            wrapper = os.path.join(d, "kiln_peer")
            with open(wrapper, "w") as f:
                f.write(f"#!/bin/sh\nexec {sys.executable} {fake} \"$@\"\n")
            os.chmod(wrapper, 0o755)
            work = os.path.join(d, "work")
            code = rp.main(["--work", work, "--kiln", wrapper, "--no-pin", "--systems", "kiln,jax", "--only", "recurrence",
                            "--not-run", "jax=pip could not install jaxlib"])
            self.assertEqual(code, 1)
            with open(os.path.join(work, "peers.md")) as f:
                text = f.read()
            self.assertIn("MISMATCH", text)
            self.assertIn("kiln fast_math recurrence", text)
            self.assertIn("JAX: not run at all: pip could not install jaxlib", text)


if __name__ == "__main__":
    unittest.main()
