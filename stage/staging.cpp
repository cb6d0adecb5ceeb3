// The entry points that kiln's header templates call while staging: context
// checks, variables, node emission, literals, regions and staged functions.
#include <kiln/control.h>
#include <kiln/detail/staging.h>

#include "context.h"

#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

namespace kiln::detail {
namespace {

Context& ctx_or_throw(const char* what, Loc loc) {
  Context* c = current();
  if (!c)
    staging_error(std::string(what) + " outside staging", loc,
                  "staged values and staged control flow only exist inside the function passed to kiln::stage()");
  return *c;
}

Context& checked(uint32_t ctx, const char* what, Loc loc) {
  Context* c = current();
  if (!c)
    staging_error(std::string(what) + ": a Rep used outside staging", loc,
                  "use Reps only inside the function passed to kiln::stage(); compile() and call it to get values");
  if (c->serial() != ctx)
    staging_error(std::string(what) + ": a Rep or Arr from another staged function is used while staging '" +
                      c->fn().name + "'",
                  loc, "pass the value as a parameter of the staged function, or call the other Staged function");
  return *c;
}

// A floating literal as the user would write it: 2.5, 1e+300 (std::to_string
// gives 2.500000 and three hundred digits).
std::string float_text(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);  // shortest round trip
}

}  // namespace

std::string rep_name(ir::Scalar s) {
  switch (s) {
    case ir::Scalar::i1: return "Rep<bool>";
    case ir::Scalar::i32: return "Rep<int32_t>";
    case ir::Scalar::i64: return "Rep<int64_t>";
    case ir::Scalar::f32: return "Rep<float>";
    case ir::Scalar::f64: return "Rep<double>";
  }
  return "Rep<?>";
}

uint32_t require_context(const char* what, Loc loc) { return ctx_or_throw(what, loc).serial(); }
uint32_t current_context() noexcept { return current() ? current()->serial() : 0; }

void staging_error(const std::string& what, Loc loc, const std::string& remedy) {
  throw StagingError(user_message(what, loc, remedy));
}

uint32_t new_var(ValueId v, Loc loc) { return ctx_or_throw("creating a Rep", loc).new_var(v, loc); }
ValueId read_var(uint32_t ctx, uint32_t var, ir::Scalar s, Loc loc) {
  return checked(ctx, "reading a Rep", loc).read_var(var, s, loc);
}
void write_var(uint32_t ctx, uint32_t var, ValueId v, Loc loc) {
  checked(ctx, "assigning a Rep", loc).write_var(var, v, loc);
}

ValueId emit(ir::Op op, ir::Type type, std::vector<ValueId> args, Loc loc, int64_t imm) {
  return ctx_or_throw("staging an operation", loc).emit(op, type, std::move(args), loc, imm);
}
ValueId constant(ir::Scalar s, int64_t bits, Loc loc) { return emit(ir::Op::Const, ir::Type::scalar(s), {}, loc, bits); }
ValueId convert(ValueId v, ir::Scalar s, Loc loc) {
  if (scalar_type(v) == s) return v;
  return emit(ir::Op::Cast, ir::Type::scalar(s), {v}, loc);
}
ir::Scalar scalar_type(ValueId v) { return ctx_or_throw("staging an operation", {}).fn().type(v).elem; }
void drop_trailing_load(ValueId load) { ctx_or_throw("storing to an Arr", {}).drop_trailing_load(load); }

ValueId literal_int(ir::Scalar s, int64_t v, Loc loc) {
  auto fits = [&] {
    switch (s) {
      case ir::Scalar::i1: return v == 0 || v == 1;
      case ir::Scalar::i32: return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
      case ir::Scalar::i64:
      case ir::Scalar::f32:
      case ir::Scalar::f64: return true;
    }
    return false;
  };
  if (!fits())
    staging_error("the literal " + std::to_string(v) + " does not fit in " + rep_name(s), loc,
                  "use a wider Rep type or cast explicitly with kiln::cast<T>(...)");
  return constant(s, ir::encode_const_int(s, v), loc);
}

ValueId literal_uint(ir::Scalar s, uint64_t v, Loc loc) {
  if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return literal_int(s, static_cast<int64_t>(v), loc);
  // Round once, straight from the integer (through double would round twice).
  if (s == ir::Scalar::f32) return constant(s, std::bit_cast<uint32_t>(static_cast<float>(v)), loc);
  if (s == ir::Scalar::f64) return constant(s, std::bit_cast<int64_t>(static_cast<double>(v)), loc);
  staging_error("the literal " + std::to_string(v) + " does not fit in " + rep_name(s), loc,
                "staged integers are signed: use a smaller constant or a floating Rep");
}

ValueId literal_float(ir::Scalar s, double v, Loc loc) {
  switch (s) {
    case ir::Scalar::f32:
      if (std::isfinite(v) && !std::isfinite(static_cast<float>(v)))
        staging_error("the literal " + float_text(v) + " overflows Rep<float>", loc,
                      "use a Rep<double>, or a smaller constant");
      return constant(s, ir::encode_const(s, v), loc);
    case ir::Scalar::f64:
      return constant(s, ir::encode_const(s, v), loc);
    case ir::Scalar::i1:
    case ir::Scalar::i32:
    case ir::Scalar::i64:
      // In range before converting: a double outside int64 has no int64 value.
      if (!std::isfinite(v) || v != std::trunc(v) || v < -9223372036854775808.0 || v >= 9223372036854775808.0)
        staging_error("the literal " + float_text(v) + " is not an integer that fits " + rep_name(s), loc,
                      "cast the Rep to a floating type with kiln::cast<double>(...)");
      return literal_int(s, static_cast<int64_t>(v), loc);
  }
  return 0;
}

ir::RegionId new_region() { return ctx_or_throw("staged control flow", {}).fn().add_region(); }

RegionScope::RegionScope(ir::RegionId r, bool parallel, Loc loc) {
  ctx_or_throw("staged control flow", loc).open_frame(r, parallel, loc);
}
RegionScope::~RegionScope() {
  if (open_ && current()) current()->close_frame(false);
}
ValueId RegionScope::param(ir::Type t) { return current()->add_param(t); }
void RegionScope::close(std::vector<ValueId> yields) {
  Context& c = *current();
  c.set_yields(std::move(yields));
  c.close_frame(true);
  open_ = false;
}

ValueId finish_structured(ir::Op op, std::vector<ValueId> args, std::vector<ir::RegionId> regions, Loc loc) {
  Context& c = ctx_or_throw("staged control flow", loc);
  ir::Type t = op == ir::Op::ParallelFor ? ir::Type{} : ir::Type::tuple();
  ValueId v = c.fn().add(op, t, std::move(args), 0, loc, std::move(regions));
  c.append_here(v);
  return v;
}

}  // namespace kiln::detail
