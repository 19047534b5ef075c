#include "wms/nn/pth.hpp"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <cstring>
#include <map>
#include <memory>
#include <variant>

#include "wms/image/header.hpp"
#include "wms/util/error.hpp"

namespace wms::nn {
namespace {

// ---- reading -------------------------------------------------------------------

// A bounds-checked in-memory source for the zip reader (hostile files included).
class BytesAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesAdapter(std::string_view b) : b_(b) {}
  size_t size() const override { return b_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* = "") const override {
    if (pos >= b_.size()) return 0;
    n = std::min<size_t>(n, b_.size() - pos);
    std::memcpy(buf, b_.data() + pos, n);
    return n;
  }

 private:
  std::string_view b_;
};

struct Value;
using Ptr = std::shared_ptr<Value>;
struct Global {
  std::string module, name;
};
struct Storage {
  std::string key;
  torch::ScalarType dtype;
  int64_t numel;
};
struct TensorRef {
  Ptr storage;
  int64_t offset;
  std::vector<int64_t> sizes, strides;
};
struct Mark {};
// An object of a class wms does not know (a pickled nn.Module, a numpy scalar, an
// optimizer's extra): kept as its class name, never constructed.
struct Opaque {
  std::string type;
};
using Items = std::vector<Ptr>;
using DictItems = std::vector<std::pair<Ptr, Ptr>>;
struct Tuple {
  Items items;
};
struct List {
  Items items;
};
struct Dict {
  DictItems items;
};
struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, Tuple, List, Dict, Global, Storage, TensorRef, Mark,
               Opaque>
      v;
};

template <typename T>
Ptr make(T x) {
  auto p = std::make_shared<Value>();
  p->v = std::move(x);
  return p;
}

class Unpickler {
 public:
  Unpickler(std::string_view b, std::string source) : b_(b), source_(std::move(source)) {}

  Ptr run() {
    for (;;) {
      if (++steps_ > 50'000'000) fail("too many instructions");
      uint8_t op = u8();
      if (op == '.') return pop();  // STOP
      if (!literal(op) && !structure(op)) fail(fmt::format("unsupported pickle opcode 0x{:02x}", op));
    }
  }

 private:
  // Opcodes that push one value read from the stream (numbers, strings, constants).
  bool literal(uint8_t op) {
    switch (op) {
      case 0x80: u8(); break;                                // PROTO
      case 0x95: bytes(8); break;                            // FRAME (protocol 4)
      case '(': push(make(Mark{})); break;                   // MARK
      case ')': push(make(Tuple{})); break;                  // EMPTY_TUPLE
      case ']': push(make(List{})); break;                   // EMPTY_LIST
      case '}': push(make(Dict{})); break;                   // EMPTY_DICT
      case 'N': push(make(std::monostate{})); break;         // NONE
      case 0x88: push(make(true)); break;                    // NEWTRUE
      case 0x89: push(make(false)); break;                   // NEWFALSE
      case 'K': push(make(int64_t(u8()))); break;            // BININT1
      case 'M': push(make(int64_t(le(2)))); break;           // BININT2
      case 'J': push(make(int64_t(int32_t(le(4))))); break;  // BININT
      case 0x8a: {                                           // LONG1
        size_t n = u8();
        if (n > 8) fail("integer too large");
        std::string_view d = bytes(n);
        int64_t v = 0;
        for (size_t i = 0; i < n; ++i) v |= int64_t(uint8_t(d[i])) << (8 * i);
        if (n > 0 && n < 8 && (uint8_t(d[n - 1]) & 0x80)) v -= int64_t(1) << (8 * n);
        push(make(v));
        break;
      }
      case 'G': {  // BINFLOAT (big-endian)
        std::string_view d = bytes(8);
        uint64_t x = 0;
        for (int i = 0; i < 8; ++i) x = (x << 8) | uint8_t(d[i]);
        double v;
        std::memcpy(&v, &x, 8);
        push(make(v));
        break;
      }
      case 'X': push(make(std::string(bytes(le(4))))); break;  // BINUNICODE
      case 0x8c: push(make(std::string(bytes(u8())))); break;  // SHORT_BINUNICODE
      case 'c': {                                              // GLOBAL
        std::string module = line(), name = line();
        push(make(Global{module, name}));
        break;
      }
      case 0x93: {  // STACK_GLOBAL (protocol 4)
        auto name = pop(), module = pop();
        push(make(Global{as<std::string>(module), as<std::string>(name)}));
        break;
      }
      case 0x8d: push(make(std::string(bytes(le(8))))); break;  // BINUNICODE8
      case 'B': push(make(std::string(bytes(le(4))))); break;   // BINBYTES
      case 'C': push(make(std::string(bytes(u8())))); break;    // SHORT_BINBYTES
      case 0x8e: push(make(std::string(bytes(le(8))))); break;  // BINBYTES8
      case 'T': push(make(std::string(bytes(le(4))))); break;   // BINSTRING
      case 'U': push(make(std::string(bytes(u8())))); break;    // SHORT_BINSTRING
      case 0x8b: {                                              // LONG4: too large for wms's needs
        bytes(le(4));
        push(make(Opaque{"int"}));
        break;
      }
      case 'I':
      case 'L': {  // INT, LONG (text)
        std::string t = line();
        push(t == "00" ? make(false) : t == "01" ? make(true) : make(int64_t(std::strtoll(t.c_str(), nullptr, 10))));
        break;
      }
      case 'F': push(make(std::strtod(line().c_str(), nullptr))); break;  // FLOAT (text)
      default: return false;
    }
    return true;
  }

  // Opcodes that build containers, objects and references from the stack and the memo.
  bool structure(uint8_t op) {
    switch (op) {
      case 'p': memo(std::strtoull(line().c_str(), nullptr, 10)); break;       // PUT
      case 'g': push(get(std::strtoull(line().c_str(), nullptr, 10))); break;  // GET
      case 'P': push(persistent(make(std::string(line())))); break;            // PERSID
      case 0x8f: push(make(List{})); break;                                    // EMPTY_SET
      case 0x90: {
        auto xs = pop_mark();
        auto& l = as<List>(top());
        l.items.insert(l.items.end(), xs.begin(), xs.end());
        break;
      }                                                // ADDITEMS
      case 0x91: push(make(List{pop_mark()})); break;  // FROZENSET
      case '0': pop(); break;                          // POP
      case '1': pop_mark(); break;                     // POP_MARK
      case '2': push(top()); break;                    // DUP
      case 0x81: {
        pop();
        push(opaque(pop()));
        break;
      }  // NEWOBJ: cls(*args), not called
      case 0x92: {
        pop();
        pop();
        push(opaque(pop()));
        break;
      }  // NEWOBJ_EX
      case 'o': {
        auto xs = pop_mark();
        if (xs.empty()) fail("empty OBJ");
        push(opaque(xs[0]));
        break;
      }            // OBJ
      case 'i': {  // INST
        std::string module = line(), name = line();
        pop_mark();
        push(make(Opaque{module + "." + name}));
        break;
      }
      case 'q': memo(u8()); break;                     // BINPUT
      case 'r': memo(le(4)); break;                    // LONG_BINPUT
      case 0x94: memo(memo_.size()); break;            // MEMOIZE
      case 'h': push(get(u8())); break;                // BINGET
      case 'j': push(get(le(4))); break;               // LONG_BINGET
      case 't': push(make(Tuple{pop_mark()})); break;  // TUPLE
      case 0x85: {
        auto a = pop();
        push(make(Tuple{{a}}));
        break;
      }
      case 0x86: {
        auto b = pop(), a = pop();
        push(make(Tuple{{a, b}}));
        break;
      }
      case 0x87: {
        auto c = pop(), b = pop(), a = pop();
        push(make(Tuple{{a, b, c}}));
        break;
      }
      case 'a': {
        auto x = pop();
        as<List>(top()).items.push_back(x);
        break;
      }  // APPEND
      case 'e': {
        auto xs = pop_mark();
        auto& l = as<List>(top());
        l.items.insert(l.items.end(), xs.begin(), xs.end());
        break;
      }
      case 's': {
        auto v = pop(), k = pop();
        as<Dict>(top()).items.emplace_back(k, v);
        break;
      }            // SETITEM
      case 'u': {  // SETITEMS
        auto xs = pop_mark();
        if (xs.size() % 2) fail("odd SETITEMS");
        auto& d = as<Dict>(top());
        for (size_t i = 0; i < xs.size(); i += 2) d.items.emplace_back(xs[i], xs[i + 1]);
        break;
      }
      case 'b': pop(); break;  // BUILD: an object's state (OrderedDict _metadata, a module's __dict__) is not needed
      case 'Q': push(persistent(pop())); break;  // BINPERSID
      case 'R': {
        auto args = pop(), fn = pop();
        push(reduce(fn, args));
        break;
      }  // REDUCE
      default: return false;
    }
    return true;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidInput("{}: not a PyTorch state_dict ({} at byte {} of data.pkl)", source_, what, pos_);
  }
  uint8_t u8() { return static_cast<uint8_t>(bytes(1)[0]); }
  uint64_t le(int n) {
    std::string_view d = bytes(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint8_t(d[i]);
    return v;
  }
  std::string_view bytes(uint64_t n) {
    if (n > b_.size() - pos_) fail("truncated");
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string line() {
    auto end = b_.find('\n', pos_);
    if (end == std::string_view::npos || end - pos_ > 256) fail("bad GLOBAL");
    std::string s(b_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  void push(Ptr p) {
    if (stack_.size() > 1'000'000) fail("stack too deep");
    stack_.push_back(std::move(p));
  }
  Ptr pop() {
    if (stack_.empty()) fail("stack underflow");
    auto p = stack_.back();
    stack_.pop_back();
    return p;
  }
  Ptr& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  Items pop_mark() {
    Items out;
    for (;;) {
      auto p = pop();
      if (std::holds_alternative<Mark>(p->v)) break;
      out.push_back(p);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }
  void memo(uint64_t i) {
    if (i > 10'000'000) fail("memo index too large");
    if (memo_.size() <= i) memo_.resize(i + 1);
    memo_[i] = top();
  }
  Ptr get(uint64_t i) {
    if (i >= memo_.size() || !memo_[i]) fail("bad memo reference");
    return memo_[i];
  }
  template <typename T>
  T& as(const Ptr& p) {
    if (!std::holds_alternative<T>(p->v)) fail("unexpected value type");
    return std::get<T>(p->v);
  }
  int64_t as_int(const Ptr& p) { return as<int64_t>(p); }
  std::vector<int64_t> int_tuple(const Ptr& p) {
    std::vector<int64_t> out;
    for (auto& x : as<Tuple>(p).items) out.push_back(as_int(x));
    return out;
  }

  // An instance of a class, recorded by name only.
  Ptr opaque(const Ptr& cls) {
    if (std::holds_alternative<Global>(cls->v)) {
      const Global& g = std::get<Global>(cls->v);
      return make(Opaque{g.module + "." + g.name});
    }
    return make(Opaque{"object"});
  }

  Ptr persistent(const Ptr& pid) {
    if (std::holds_alternative<std::string>(pid->v)) fail("a legacy persistent id (PyTorch < 1.6 file)");
    auto& t = as<Tuple>(pid).items;
    if (t.size() < 5 || as<std::string>(t[0]) != "storage") fail("unsupported persistent id");
    const Global& g = as<Global>(t[1]);
    static const std::map<std::string, torch::ScalarType> kinds = {
        {"FloatStorage", torch::kFloat32},     {"DoubleStorage", torch::kFloat64}, {"HalfStorage", torch::kFloat16},
        {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kInt64},     {"IntStorage", torch::kInt32}};
    auto it = kinds.find(g.name);
    if (g.module != "torch" || it == kinds.end()) fail("unsupported storage type " + g.module + "." + g.name);
    int64_t numel = as_int(t[4]);
    if (numel < 0) fail("negative storage size");
    return make(Storage{as<std::string>(t[2]), it->second, numel});
  }

  Ptr reduce(const Ptr& fn, const Ptr& args) {
    const Global& g = as<Global>(fn);
    auto& a = as<Tuple>(args).items;
    if (g.module == "collections" && g.name == "OrderedDict") return make(Dict{});
    if (g.module == "torch._utils" && g.name == "_rebuild_tensor_v2") {
      if (a.size() < 4) fail("bad _rebuild_tensor_v2 call");
      as<Storage>(a[0]);
      return make(TensorRef{a[0], as_int(a[1]), int_tuple(a[2]), int_tuple(a[3])});
    }
    if (g.module == "torch._utils" && g.name == "_rebuild_parameter") {
      if (a.empty()) fail("bad _rebuild_parameter call");
      as<TensorRef>(a[0]);
      return a[0];
    }
    // Anything else is not called: its result stands for an object of that name.
    return make(Opaque{g.module + "." + g.name});
  }

  std::string_view b_;
  std::string source_;
  size_t pos_ = 0;
  uint64_t steps_ = 0;
  std::vector<Ptr> stack_, memo_;
};

torch::Tensor materialise(const TensorRef& r, caffe2::serialize::PyTorchStreamReader& zip, const std::string& source,
                          std::map<std::string, torch::Tensor>& storages) {
  const Storage& s = std::get<Storage>(r.storage->v);
  auto it = storages.find(s.key);
  if (it == storages.end()) {
    std::string rec = "data/" + s.key;
    if (!zip.hasRecord(rec)) throw InvalidInput("{}: storage {} is missing", source, rec);
    auto [ptr, size] = zip.getRecord(rec);
    int64_t elem = static_cast<int64_t>(c10::elementSize(s.dtype));
    if (static_cast<int64_t>(size) < s.numel * elem) throw InvalidInput("{}: storage {} is truncated", source, rec);
    auto t = torch::empty({s.numel}, torch::TensorOptions().dtype(s.dtype));
    std::memcpy(t.data_ptr(), ptr.get(), static_cast<size_t>(s.numel * elem));
    it = storages.emplace(s.key, t).first;
  }
  if (r.sizes.size() != r.strides.size()) throw InvalidInput("{}: tensor sizes and strides differ in rank", source);
  int64_t extent = r.offset;
  for (size_t i = 0; i < r.sizes.size(); ++i) {
    if (r.sizes[i] < 0 || r.strides[i] < 0) throw InvalidInput("{}: negative tensor size or stride", source);
    if (r.sizes[i] > 0) extent += (r.sizes[i] - 1) * r.strides[i];
  }
  bool empty = std::any_of(r.sizes.begin(), r.sizes.end(), [](int64_t d) { return d == 0; });
  if (r.offset < 0 || (!empty && extent >= s.numel)) throw InvalidInput("{}: tensor reaches past its storage", source);
  return it->second.as_strided(r.sizes, r.strides, r.offset).clone();
}

// ---- writing -------------------------------------------------------------------

class Pickler {
 public:
  void op(char c) { out_ += c; }
  void str(const std::string& s) {
    op('X');
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    out_ += module + "\n" + name + "\n";
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      out_ += static_cast<char>(v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      op(static_cast<char>(0x8a));
      out_ += static_cast<char>(8);
      for (int i = 0; i < 8; ++i) out_ += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
    }
  }
  void int_tuple(const std::vector<int64_t>& xs) {
    op('(');
    for (auto x : xs) integer(x);
    op('t');
  }
  std::string& bytes() { return out_; }

 private:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

std::string storage_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "FloatStorage";
    case torch::kFloat64: return "DoubleStorage";
    case torch::kFloat16: return "HalfStorage";
    case torch::kBFloat16: return "BFloat16Storage";
    case torch::kInt64: return "LongStorage";
    case torch::kInt32: return "IntStorage";
    default: throw Internal("write_pth: unsupported dtype");
  }
}

}  // namespace

namespace {

// What a pickled value is, for messages: "dict with keys epoch, model_state_dict, ...".
std::string describe(const Ptr& p) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Dict>) {
          std::string keys;
          int n = 0;
          for (const auto& [k, _] : x.items) {
            if (n++ == 8) {
              keys += ", ...";
              break;
            }
            keys += (keys.empty() ? "" : ", ") + (std::holds_alternative<std::string>(k->v)
                                                      ? "'" + std::get<std::string>(k->v) + "'"
                                                      : std::string("?"));
          }
          return fmt::format("a dict of {} entries (keys {})", x.items.size(), keys.empty() ? "none" : keys);
        } else if constexpr (std::is_same_v<T, Opaque>) {
          return "an object of class " + x.type;
        } else if constexpr (std::is_same_v<T, TensorRef>) {
          return "a single tensor";
        } else if constexpr (std::is_same_v<T, List> || std::is_same_v<T, Tuple>) {
          return fmt::format("a list of {}", x.items.size());
        } else {
          return "a plain value";
        }
      },
      p->v);
}

bool is_tensor_dict(const Ptr& p) {
  if (!std::holds_alternative<Dict>(p->v)) return false;
  const auto& items = std::get<Dict>(p->v).items;
  return !items.empty() && std::all_of(items.begin(), items.end(), [](const auto& kv) {
    return std::holds_alternative<std::string>(kv.first->v) && std::holds_alternative<TensorRef>(kv.second->v);
  });
}

const char* const kResave =
    "re-save the weights with torch.save(model.state_dict(), 'weights.pth') "
    "(PyTorch's documented way to save a model for inference)";

// The state_dict in a torch.save'd object: the object itself, or the model's entry of a
// training checkpoint ({'epoch', 'model_state_dict', 'optimizer_state_dict', ...}, as
// PyTorch's "Saving and loading a general checkpoint" writes it). `note` says which.
Ptr find_state_dict(const Ptr& root, const std::string& source, std::string& note) {
  if (is_tensor_dict(root)) return root;
  if (std::holds_alternative<Opaque>(root->v))
    throw InvalidInput(
        "{}: holds a pickled object ({}; torch.save(model) saves a whole model this way), not a "
        "state_dict; wms never runs pickled code: {}",
        source, describe(root).substr(3), kResave);
  if (std::holds_alternative<Dict>(root->v)) {
    const auto& items = std::get<Dict>(root->v).items;
    auto key_of = [](const Ptr& k) {
      return std::holds_alternative<std::string>(k->v) ? std::get<std::string>(k->v) : "";
    };
    for (const char* want : {"model_state_dict", "state_dict", "model_state", "model", "net", "network", "weights"}) {
      for (const auto& [k, v] : items) {
        if (key_of(k) != want) continue;
        if (is_tensor_dict(v)) {
          note = fmt::format("took '{}' from a checkpoint holding {}", want, describe(root).substr(2));
          return v;
        }
        if (std::holds_alternative<Opaque>(v->v))
          throw InvalidInput("{}: '{}' holds a pickled object ({}), not a state_dict; wms never runs pickled code: {}",
                             source, want, describe(v).substr(3), kResave);
      }
    }
    std::vector<std::string> candidates;
    for (const auto& [k, v] : items)
      if (is_tensor_dict(v)) candidates.push_back(key_of(k));
    if (candidates.size() == 1) {
      for (const auto& [k, v] : items)
        if (key_of(k) == candidates[0]) {
          note = fmt::format("took '{}' from a checkpoint holding {}", candidates[0], describe(root).substr(2));
          return v;
        }
    }
  }
  throw InvalidInput(
      "{}: found {}, not a state_dict (a dict of tensors) nor a checkpoint with a 'model_state_dict'; {}", source,
      describe(root), kResave);
}

}  // namespace

PthContents read_pth(std::string_view bytes, const std::string& source) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80 && bytes[1] <= 5)
    throw InvalidInput(
        "{}: a legacy torch.save file (PyTorch before 1.6 wrote this format); re-save it with a current "
        "PyTorch: torch.save(torch.load('old.pth'), 'new.pth')",
        source);
  if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view("PK\x03\x04", 4))
    throw InvalidInput("{}: not a torch.save file (those are zip archives): found {}", source,
                       image::describe_content(bytes));
  try {
    caffe2::serialize::PyTorchStreamReader zip(std::make_shared<BytesAdapter>(bytes));
    if (zip.hasRecord("constants.pkl") || zip.hasRecord("code/__torch__.py"))
      throw InvalidInput("{}: a TorchScript archive (torch.jit.save), not a state_dict; load it in Python and {}",
                         source, kResave);
    if (!zip.hasRecord("data.pkl")) throw InvalidInput("{}: no data.pkl record (not a torch.save file)", source);
    auto [ptr, size] = zip.getRecord("data.pkl");
    std::string pkl(static_cast<const char*>(ptr.get()), size);
    Ptr root = Unpickler(pkl, source).run();
    PthContents out;
    Ptr dict = find_state_dict(root, source, out.note);
    std::map<std::string, torch::Tensor> storages;
    for (auto& [k, v] : std::get<Dict>(dict->v).items)
      out.tensors.emplace_back(std::get<std::string>(k->v),
                               materialise(std::get<TensorRef>(v->v), zip, source, storages));
    return out;
  } catch (const c10::Error& e) {
    throw InvalidInput("{}: not a readable torch.save zip file ({})", source, e.what_without_backtrace());
  }
}

std::string write_pth(const NamedTensors& tensors) {
  Pickler p;
  p.op(static_cast<char>(0x80));
  p.bytes() += static_cast<char>(2);
  p.global("collections", "OrderedDict");
  p.op(')');
  p.op('R');
  p.op('(');
  std::vector<torch::Tensor> data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto t = tensors[i].second.detach().to(torch::kCPU).contiguous();
    data.push_back(t);
    p.str(tensors[i].first);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    p.op('(');
    p.str("storage");
    p.global("torch", storage_name(t.scalar_type()));
    p.str(std::to_string(i));
    p.str("cpu");
    p.integer(t.numel());
    p.op('t');
    p.op('Q');
    p.integer(0);
    p.int_tuple(t.sizes().vec());
    p.int_tuple(t.strides().vec());
    p.op(static_cast<char>(0x89));  // requires_grad False
    p.global("collections", "OrderedDict");
    p.op(')');
    p.op('R');
    p.op('t');
    p.op('R');
  }
  p.op('u');
  p.op('.');
  std::string out;
  {
    caffe2::serialize::PyTorchStreamWriter zip([&out](const void* buf, size_t n) {
      out.append(static_cast<const char*>(buf), n);
      return n;
    });
    zip.writeRecord("data.pkl", p.bytes().data(), p.bytes().size());
    for (size_t i = 0; i < data.size(); ++i)
      zip.writeRecord("data/" + std::to_string(i), data[i].data_ptr(), data[i].numel() * data[i].element_size());
    zip.writeEndOfFile();
  }
  return out;
}

}  // namespace wms::nn
