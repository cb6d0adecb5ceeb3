// The IR parser: the printer's text back into a Module. The lexer
// (lexer.h) turns the whole text into tokens (line breaks are only separators: every statement
// form ends where its grammar ends), then a recursive-descent parser with one
// switch over Op builds nodes through the node factory, in the order the
// printer numbers them, and the verifier checks what the grammar cannot.
#include <kiln/ir/parser.h>
#include <kiln/ir/verifier.h>

#include "lexer.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

namespace kiln::ir {
namespace {

const std::map<std::string, Op, std::less<>>& ops_by_spelling() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, Op, std::less<>>;
    for (Op op : all_ops()) t->emplace(std::string(info(op).spelling), op);
    return t;
  }();
  return *table;
}

// Tensors larger than this many elements are rejected as text: no program
// kiln stages has them, and their element counts would overflow.
constexpr int64_t max_tensor_elements = int64_t{1} << 40;
// Regions nested deeper than this are rejected as text: the parser, the
// verifier and the printer recurse once per level, and hostile nesting
// (a few thousand levels fit in a small input) would overflow the stack.
constexpr int max_nesting = 128;

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : file_(file) { toks_ = tokenize(text, file_); }

  Module run() {
    if (peek().kind == Tok::end) fail(peek(), "expected 'func', found an empty input");
    while (peek().kind != Tok::end) function();
    resolve_functions();
    verify_module();
    check_printed_tuples();
    return std::move(m_);
  }

 private:
  struct FunctionText {
    Token header;
    std::unordered_map<std::string, ValueId> names;
    std::vector<std::string> name_of;  // by node id
    std::vector<Token> where;          // by node id: the statement (or parameter) that defines it
  };
  struct Pending {
    size_t function;
    ValueId node;  // no_value: the function's custom_vjp
    Token callee;
    std::vector<Type> printed;  // a call's printed result types
  };

  std::string file_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  Module m_;
  std::vector<FunctionText> text_;
  std::map<std::string, size_t> index_of_;
  std::vector<Pending> callees_;
  std::vector<Pending> tuples_;  // if / for / while with the types the text gives
  size_t fi_ = 0;                // the function being parsed
  int depth_ = 0;                // regions open around the current statement

  Function& f() { return m_.functions[fi_]; }
  FunctionText& ft() { return text_[fi_]; }

  [[noreturn]] void fail(const Token& at, const std::string& what) const { fail_at(file_, at, what); }

  // ---- tokens ----
  const Token& peek(size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  Token next() {
    Token t = peek();
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool is(std::string_view text, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return (t.kind == Tok::punct || t.kind == Tok::word) && t.text == text;
  }
  bool accept(std::string_view text) {
    if (!is(text)) return false;
    next();
    return true;
  }
  Token expect(std::string_view text) {
    if (!is(text)) fail(peek(), "expected '" + std::string(text) + "', found " + quoted(peek()));
    return next();
  }
  Token expect_kind(Tok kind, const std::string& what) {
    if (peek().kind != kind) fail(peek(), "expected " + what + ", found " + quoted(peek()));
    return next();
  }

  int64_t integer(const Token& t, const std::string& what) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if ((t.kind != Tok::word && t.kind != Tok::var) || ec != std::errc{} || end != t.text.data() + t.text.size())
      fail(t, "expected " + what + " (an integer), found " + quoted(t));
    return v;
  }
  int64_t integer(const std::string& what) { return integer(next(), what); }
  std::vector<int64_t> int_list(const std::string& what) {
    expect("[");
    std::vector<int64_t> xs;
    if (!is("]")) do xs.push_back(integer(what)); while (accept(","));
    expect("]");
    return xs;
  }

  // ---- types and literals ----
  static const Scalar* scalar_named(const Token& t) {
    static const std::map<std::string, Scalar, std::less<>> names = {
        {"i1", Scalar::i1}, {"i32", Scalar::i32}, {"i64", Scalar::i64}, {"f32", Scalar::f32}, {"f64", Scalar::f64}};
    auto it = t.kind == Tok::word ? names.find(t.text) : names.end();
    return it == names.end() ? nullptr : &it->second;
  }
  Scalar scalar(const Token& t) {
    const Scalar* s = scalar_named(t);
    if (!s) fail(t, "expected an element type (i1, i32, i64, f32, f64), found " + quoted(t));
    return *s;
  }
  Type type() {
    const Token t = next();
    if (t.kind == Tok::word && t.text == "buf") {
      expect("<");
      const bool read_only = accept("const");
      Scalar s = scalar(next());
      expect(">");
      return Type::buf(s, !read_only);
    }
    if (t.kind == Tok::word && t.text == "tensor") {
      expect("<");
      Scalar s = scalar(next());
      expect(",");
      std::vector<int64_t> dims = shape(next());
      expect(">");
      return Type::tensor(s, dims);
    }
    if (const Scalar* s = scalar_named(t)) return Type::scalar(*s);
    fail(t, "expected a type (i1, i32, i64, f32, f64, buf<...>, tensor<...>), found " + quoted(t));
  }
  // "64x128": extents >= 1, rank 1 to 16.
  std::vector<int64_t> shape(const Token& t) {
    std::vector<int64_t> dims;
    int64_t elements = 1;
    std::string_view s = t.text;
    while (t.kind == Tok::word) {
      size_t x = s.find('x');
      std::string_view part = s.substr(0, x);
      int64_t d = 0;
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), d);
      if (ec != std::errc{} || end != part.data() + part.size() || part.empty() || d < 1 || dims.size() == 16 ||
          d > max_tensor_elements / elements)
        break;
      elements *= d;
      dims.push_back(d);
      if (x == std::string_view::npos) return dims;
      s.remove_prefix(x + 1);
    }
    fail(t, "expected a tensor shape like 64x128 (1 to 16 extents of at least 1, at most 2^40 elements), found " +
                quoted(t));
  }
  std::vector<Type> type_list() {
    expect("(");
    std::vector<Type> ts;
    if (!is(")")) do ts.push_back(type()); while (accept(","));
    expect(")");
    return ts;
  }
  // A constant's imm (ir.h: integers sign-extended, floats as their bits).
  int64_t literal(const Token& t, Scalar s) {
    const std::string& x = t.text;
    if (t.kind != Tok::word) fail(t, "expected a constant, found " + quoted(t));
    switch (s) {
      case Scalar::i1:
        if (x == "true" || x == "false") return x == "true";
        fail(t, "expected true or false for an i1 constant, found " + quoted(t));
      case Scalar::i32: {
        int64_t v = integer(t, "an i32 constant");
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
          fail(t, "i32 constant out of range: " + x);
        return v;
      }
      case Scalar::i64: return integer(t, "an i64 constant");
      case Scalar::f32: return std::bit_cast<uint32_t>(float_literal<float>(t));
      case Scalar::f64: return std::bit_cast<int64_t>(float_literal<double>(t));
    }
    return 0;
  }
  template <class T>
  T float_literal(const Token& t) {
    const std::string& x = t.text;
    const bool minus = !x.empty() && x[0] == '-';
    std::string_view body = std::string_view(x).substr(minus ? 1 : 0);
    T v{};
    if (body == "nan") {
      v = std::numeric_limits<T>::quiet_NaN();
    } else if (body == "inf") {
      v = std::numeric_limits<T>::infinity();
    } else {
      auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
      if (ec != std::errc{} || end != body.data() + body.size() || body.empty() ||
          !std::isdigit(static_cast<unsigned char>(body[0])))
        fail(t, "expected a floating-point constant (1.5, 2e-07, inf, nan), found " + quoted(t));
    }
    return minus ? -v : v;
  }

  // ---- values ----
  ValueId ref() {
    const Token t = expect_kind(Tok::value, "a value (%name)");
    auto it = ft().names.find(t.text);
    if (it == ft().names.end()) fail(t, "use of undefined value %" + t.text);
    return it->second;
  }
  std::vector<ValueId> refs() {
    std::vector<ValueId> vs;
    if (peek().kind != Tok::value) return vs;
    do vs.push_back(ref()); while (accept(","));
    return vs;
  }
  // `%buf[%index]`, as load, store, tensor.load and tensor.store write it.
  std::pair<ValueId, ValueId> indexed() {
    ValueId b = ref();
    expect("[");
    ValueId i = ref();
    expect("]");
    return {b, i};
  }
  void define(const Token& name, ValueId v, const Token& statement) {
    FunctionText& t = ft();
    t.name_of.resize(f().nodes.size());
    t.where.resize(f().nodes.size());
    t.where[v] = statement;
    if (name.kind == Tok::end) return;  // unnamed
    if (!t.names.emplace(name.text, v).second) fail(name, "value %" + name.text + " is defined twice");
    t.name_of[v] = name.text;
  }
  // The node factory, with its complaints located at the statement.
  ValueId add(const Token& at, Op op, Type type, std::vector<ValueId> args, int64_t imm = 0,
              std::vector<RegionId> regions = {}) {
    try {
      return f().add(op, type, std::move(args), imm, {}, std::move(regions));
    } catch (const InternalError& e) {
      std::string why = e.what();
      if (why.rfind("node factory: ", 0) == 0) why.erase(0, 14);
      fail(at, why);
    }
  }
  ValueId param(RegionId r, const Token& name, Type t) {
    ValueId p = add(name, Op::Param, t, {}, static_cast<int64_t>(f().regions[r].params.size()));
    f().regions[r].params.push_back(p);
    define(name, p, name);
    return p;
  }

  // ---- functions and regions ----
  void function() {
    const Token header = expect("func");
    const Token name = expect_kind(Tok::global, "a function name (@name)");
    if (!index_of_.emplace(name.text, m_.functions.size()).second) fail(name, "function @" + name.text + " is defined twice");
    fi_ = m_.functions.size();
    m_.functions.emplace_back();
    text_.push_back({header, {}, {}, {}});
    f().name = name.text;
    f().body = f().add_region();
    expect("(");
    std::vector<std::string> names;
    if (!is(")")) {
      do {
        Token p = expect_kind(Tok::value, "a parameter (%name: type)");
        expect(":");
        param(f().body, p, type());
        names.push_back(p.text);
      } while (accept(","));
    }
    expect(")");
    // Parameters named in the text (not numbered) name the emitted code's.
    bool named = !names.empty();
    for (const std::string& n : names) named = named && !std::isdigit(static_cast<unsigned char>(n[0]));
    if (named) f().param_names = names;
    expect("->");
    f().result_types = type_list();
    if (accept("custom_vjp")) callees_.push_back({fi_, no_value, expect_kind(Tok::global, "a function name"), {}});
    expect("{");
    statements(f().body, "return");
    expect("}");
  }

  // Statements up to `end` ("yield" or "return"), then its value list.
  void statements(RegionId r, std::string_view end) {
    while (!is(end)) {
      if (peek().kind == Tok::end || is("}"))
        fail(peek(), "expected a statement or '" + std::string(end) + "', found " + quoted(peek()));
      statement(r);
    }
    next();
    f().regions[r].yields = refs();
  }

  // A nested region: `^(%i: i64, ...):` when it has parameters, then its body.
  void region(RegionId r) {
    if (++depth_ > max_nesting)
      fail(peek(), "regions nested more than " + std::to_string(max_nesting) + " deep");
    if (accept("^")) {
      expect("(");
      if (!is(")")) {
        do {
          Token p = expect_kind(Tok::value, "a region parameter (%name: type)");
          expect(":");
          param(r, p, type());
        } while (accept(","));
      }
      expect(")");
      expect(":");
    }
    statements(r, "yield");
    --depth_;
  }

  void statement(RegionId r) {
    const Token start = peek();
    Token lhs;  // kind end: no name
    if (peek().kind == Tok::value && is("=", 1)) {
      lhs = next();
      next();
    }
    const Token op_tok = expect_kind(Tok::word, "an operation");
    auto it = ops_by_spelling().find(op_tok.text);
    if (it == ops_by_spelling().end()) fail(op_tok, "unknown operation '" + op_tok.text + "'");
    const Op op = it->second;
    auto result_less = [&] {
      if (lhs.kind != Tok::end) fail(lhs, "'" + op_tok.text + "' has no result to name");
    };
    auto colon_type = [&] {
      expect(":");
      return type();
    };
    auto place = [&](ValueId v) {
      f().regions[r].body.push_back(v);
      define(lhs, v, start);
      return v;
    };
    switch (op) {
      case Op::Const: {
        Token lit = next();
        Type t = colon_type();
        place(add(start, op, t, {}, literal(lit, t.elem)));
        return;
      }
      case Op::Param:
      case Op::Alloc: {
        int64_t k = integer(op == Op::Param ? "a parameter position" : "an element count");
        place(add(start, op, colon_type(), {}, k));
        return;
      }
      case Op::Get: {
        ValueId t = ref();
        expect(",");
        int64_t k = integer("a tuple index");
        place(add(start, op, colon_type(), {t}, k));
        return;
      }
      case Op::Load: {
        auto [b, i] = indexed();
        place(add(start, op, colon_type(), {b, i}));
        return;
      }
      case Op::Store: {
        result_less();
        auto [b, i] = indexed();
        expect(",");
        ValueId x = ref();
        place(add(start, op, Type{}, {b, i, x}));
        return;
      }
      case Op::VarLoad: {
        int64_t k = integer(expect_kind(Tok::var, "a variable ($n)"), "a variable number");
        place(add(start, op, colon_type(), {}, k));
        return;
      }
      case Op::VarStore: {
        result_less();
        int64_t k = integer(expect_kind(Tok::var, "a variable ($n)"), "a variable number");
        expect(",");
        ValueId x = ref();
        place(add(start, op, Type{}, {x}, k));
        return;
      }
      case Op::TapePop: {
        int64_t k = integer("a tape number");
        place(add(start, op, colon_type(), {}, k));
        return;
      }
      case Op::TapePush: {
        result_less();
        int64_t k = integer("a tape number");
        expect(",");
        ValueId x = ref();
        place(add(start, op, Type{}, {x}, k));
        return;
      }
      case Op::TapeReserve:
      case Op::TapeRelease: {
        int64_t k = integer("a tape number");
        expect(",");
        ValueId n = ref();
        place(add(start, op, colon_type(), {n}, k));
        return;
      }
      case Op::Call: {
        Token callee = expect_kind(Tok::global, "a function name (@name)");
        expect("(");
        std::vector<ValueId> args = refs();
        expect(")");
        expect(":");
        std::vector<Type> printed = type_list();
        ValueId v = place(add(start, op, Type::tuple(), std::move(args)));
        callees_.push_back({fi_, v, callee, std::move(printed)});
        return;
      }
      case Op::If: {
        ValueId c = ref();
        expect(":");
        std::vector<Type> printed = type_list();
        RegionId then = f().add_region(), otherwise = f().add_region();
        ValueId v = place(add(start, op, Type::tuple(), {c}, 0, {then, otherwise}));
        tuples_.push_back({fi_, v, start, std::move(printed)});
        expect("{");
        region(then);
        expect("}");
        expect("else");
        expect("{");
        region(otherwise);
        expect("}");
        return;
      }
      case Op::For: {
        std::vector<ValueId> args = refs();
        if (args.size() != 3) fail(start, "'for' takes lo, hi, step, then iter(...)");
        expect("iter");
        expect("(");
        for (ValueId x : refs()) args.push_back(x);
        expect(")");
        expect(":");
        std::vector<Type> printed = type_list();
        RegionId body = f().add_region();
        ValueId v = place(add(start, op, Type::tuple(), std::move(args), 0, {body}));
        tuples_.push_back({fi_, v, start, std::move(printed)});
        expect("{");
        region(body);
        expect("}");
        return;
      }
      case Op::While: {
        expect("(");
        std::vector<ValueId> args = refs();
        expect(")");
        expect(":");
        std::vector<Type> printed = type_list();
        RegionId cond = f().add_region(), body = f().add_region();
        ValueId v = place(add(start, op, Type::tuple(), std::move(args), 0, {cond, body}));
        tuples_.push_back({fi_, v, start, std::move(printed)});
        expect("{");
        region(cond);
        expect("}");
        expect("do");
        expect("{");
        region(body);
        expect("}");
        return;
      }
      case Op::ParallelFor: {
        result_less();
        std::vector<ValueId> args = refs();
        if (args.size() != 3) fail(start, "'parallel_for' takes lo, hi, step");
        RegionId body = f().add_region();
        place(add(start, op, Type{}, std::move(args), 0, {body}));
        expect("{");
        region(body);
        expect("}");
        return;
      }
      case Op::Check: {
        result_less();
        ValueId c = ref();
        expect(",");
        std::string what = expect_kind(Tok::string, "the check's message (a string)").text;
        expect(",");
        std::string remedy = expect_kind(Tok::string, "the check's remedy (a string)").text;
        place(add(start, op, Type{}, {c}, intern_message(what, remedy)));
        return;
      }
      case Op::Gemm: {
        result_less();
        std::vector<ValueId> args = refs();
        std::vector<int64_t> mkn = int_list("a size");
        place(add(start, op, Type{}, std::move(args), intern_ints(mkn)));
        return;
      }
      case Op::TensorConst: {
        expect("[");
        std::vector<Token> lits;
        if (!is("]")) do lits.push_back(next()); while (accept(","));
        expect("]");
        Type t = colon_type();
        std::vector<int64_t> bits;
        for (const Token& l : lits) bits.push_back(literal(l, t.elem));
        place(add(start, op, t, {}, intern_ints(bits)));
        return;
      }
      case Op::Transpose: {
        ValueId x = ref();
        std::vector<int64_t> perm = int_list("an axis");
        place(add(start, op, colon_type(), {x}, intern_ints(perm)));
        return;
      }
      case Op::Slice:
      case Op::Embed: {
        ValueId x = ref();
        expect("[");
        std::vector<int64_t> a;
        if (!is("]")) {
          do {
            a.push_back(integer("a start"));
            expect(":");
            a.push_back(integer("a step"));
          } while (accept(","));
        }
        expect("]");
        place(add(start, op, colon_type(), {x}, intern_ints(a)));
        return;
      }
      case Op::ReduceSum:
      case Op::ReduceMax: {
        ValueId x = ref();
        expect("axes");
        Token at = peek();
        int64_t mask = 0;
        for (int64_t axis : int_list("an axis")) {
          if (axis < 0 || axis >= 16) fail(at, "axis " + std::to_string(axis) + " is out of range (0 to 15)");
          mask |= int64_t{1} << axis;
        }
        place(add(start, op, colon_type(), {x}, mask));
        return;
      }
      case Op::TensorLoad: {
        int64_t exact = accept("exact");
        auto [b, i] = indexed();
        place(add(start, op, colon_type(), {b, i}, exact));
        return;
      }
      case Op::TensorStore: {
        result_less();
        int64_t exact = accept("exact");
        auto [b, i] = indexed();
        expect(",");
        ValueId x = ref();
        place(add(start, op, Type{}, {x, b, i}, exact));
        return;
      }
      case Op::Splat: case Op::Iota: case Op::Broadcast: case Op::Reshape: case Op::Matmul:
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
      case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast: case Op::Add:
      case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max:
      case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr:
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Fma: case Op::Select: case Op::Size: case Op::Disjoint: {
        std::vector<ValueId> args = refs();
        place(add(start, op, colon_type(), std::move(args)));
        return;
      }
    }
  }

  // ---- whole-module checks ----
  void resolve_functions() {
    for (const Pending& p : callees_) {
      auto it = index_of_.find(p.callee.text);
      if (it == index_of_.end()) fail(p.callee, "call of undefined function @" + p.callee.text);
      Function& fn = m_.functions[p.function];
      if (p.node == no_value)
        fn.custom_vjp = static_cast<int64_t>(it->second);
      else
        fn.nodes[p.node].imm = static_cast<int64_t>(it->second);
    }
  }

  const Token& where(size_t function, ValueId v) const {
    const FunctionText& t = text_[function];
    return v < t.where.size() && t.where[v].line > 0 ? t.where[v] : t.header;
  }

  void verify_module() {
    VerifyOptions opts;
    opts.allow_variables = true;
    opts.value_name = [this](const Function& fn, ValueId v) {
      const FunctionText& t = text_[static_cast<size_t>(&fn - m_.functions.data())];
      if (v < t.name_of.size() && !t.name_of[v].empty()) return "%" + t.name_of[v];
      return std::string("the unnamed value at ") + std::to_string(where(&fn - m_.functions.data(), v).line) + ":" +
             std::to_string(where(&fn - m_.functions.data(), v).column);
    };
    std::vector<VerifyError> errors = verify_located(m_, opts);
    if (errors.empty()) return;
    std::string msg;
    for (const VerifyError& e : errors) {
      const Token& at = where(e.function, e.value);
      msg += (msg.empty() ? "" : "\n") + position(file_, at) + e.message;
    }
    const Token& first = where(errors[0].function, errors[0].value);
    throw ParseError(msg, first.line, first.column);
  }

  // The result types the text gives for if / for / while / call must be
  // the ones the IR derives, or the text does not mean what it says.
  void check_printed_tuples() {
    auto check = [&](const Pending& p, const Token& at) {
      const Function& fn = m_.functions[p.function];
      std::vector<Type> got = tuple_types(m_, fn, fn.node(p.node));
      if (got == p.printed) return;
      auto list = [](const std::vector<Type>& ts) {
        std::string s = "(";
        for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + to_string(ts[i]);
        return s + ")";
      };
      fail(at, "'" + std::string(info(fn.node(p.node).op).spelling) + "' gives " + list(got) + ", the text says " +
                   list(p.printed));
    };
    for (const Pending& p : tuples_) check(p, p.callee);
    for (const Pending& p : callees_)
      if (p.node != no_value) check(p, p.callee);
  }
};

}  // namespace

Module parse(std::string_view text, std::string_view file) { return Parser(text, file).run(); }

}  // namespace kiln::ir
