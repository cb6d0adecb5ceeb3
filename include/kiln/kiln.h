// kiln: multi-stage programming in C++. Include this one header.
//
//   #include <kiln/kiln.h>
//   using namespace kiln;
//   auto power = [](Rep<double> x, int n) { Rep<double> r = 1.0; for (int i = 0; i < n; ++i) r *= x; return r; };
//   auto p5 = stage("p5", [&](Rep<double> x) { return power(x, 5); });   // unrolled at staging time
//   auto f = compile(p5);
//   double y = f(2.0);                                                     // 32
#pragma once

#include <kiln/autodiff.h>
#include <kiln/compile.h>
#include <kiln/control.h>
#include <kiln/cuda.h>
#include <kiln/error.h>
#include <kiln/export.h>
#include <kiln/rep.h>
#include <kiln/staged.h>
#include <kiln/tensor.h>
