// Declarative option tables: one row per option of an options struct (the wms.yaml key,
// the name it is recorded under, the member, the rule its value must keep, a help line)
// drives reading from a Config, validation (of values from wms.yaml and from the command
// line alike), the params recorded with a run, and `wms init`'s commented defaults, so
// that none of the four can forget an option.
//
//   const OptionTable<GatePolicy>& table() {
//     static const auto t = OptionTable<GatePolicy>()
//         .add("gate.rule", "rule", WMS_MEMBER(rule), "decision rule", kRuleNames)
//         .add("gate.confidence", "confidence", WMS_MEMBER(confidence), "of the interval", Range::open(0, 1));
//     return t;
//   }
//
// Member types: bool, int, std::int64_t, std::uint64_t, double, std::string,
// std::vector<double>, and enums with a name table (Names<E>). Rules that relate two
// options stay code, after the table has read and checked each one.
//
// Thread safety: a built table is immutable and may be used from any thread.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"

/// The accessor of a table row: WMS_MEMBER(model.input_size) reads and writes o.model.input_size.
#define WMS_MEMBER(path)  \
  [](auto& o_) -> auto& { \
    return o_.path;       \
  }

namespace wms::util {

/// A fixed vocabulary: each value of E and its name in wms.yaml, JSON and the CLI.
template <class E>
struct Names {
  std::vector<std::pair<E, const char*>> table;

  const char* name(E e) const {
    for (auto& [v, n] : table)
      if (v == e) return n;
    return "?";
  }
  std::optional<E> find(std::string_view name) const {
    for (auto& [v, n] : table)
      if (name == n) return v;
    return std::nullopt;
  }
  /// "a, b or c", for messages.
  std::string choices() const {
    std::string out;
    for (std::size_t i = 0; i < table.size(); ++i)
      out += (i == 0 ? "" : i + 1 == table.size() ? " or " : ", ") + std::string(table[i].second);
    return out;
  }
  /// Parses a name; throws InvalidInput "`what`: 'x' is not one of a, b or c".
  E parse(std::string_view name, const std::string& what) const {
    if (auto v = find(name)) return *v;
    throw InvalidInput("{}: '{}' is not one of {}", what, name, choices());
  }
};

/// A numeric range with open or closed ends and an optional step ("multiple of 16").
struct Range {
  double lo = -INFINITY, hi = INFINITY;
  bool lo_open = false, hi_open = false;
  std::int64_t multiple_of = 0;

  static Range closed(double lo, double hi) { return {lo, hi, false, false, 0}; }
  static Range open(double lo, double hi) { return {lo, hi, true, true, 0}; }
  static Range half_open(double lo, double hi) { return {lo, hi, false, true, 0}; }
  static Range open_closed(double lo, double hi) { return {lo, hi, true, false, 0}; }
  static Range at_least(double lo) { return {lo, INFINITY, false, false, 0}; }
  static Range above(double lo) { return {lo, INFINITY, true, false, 0}; }
  Range step(std::int64_t m) const {
    Range r = *this;
    r.multiple_of = m;
    return r;
  }

  bool holds(double v) const {
    if (std::isnan(v)) return false;
    if (lo_open ? !(v > lo) : !(v >= lo)) return false;
    if (hi_open ? !(v < hi) : !(v <= hi)) return false;
    return multiple_of == 0 || std::fmod(v, static_cast<double>(multiple_of)) == 0;
  }
  /// "must be in [0, 1)", "must be >= 1", "must be a multiple of 16 in [16, 4096]".
  std::string rule() const {
    std::string what = multiple_of ? fmt::format("a multiple of {} ", multiple_of) : "";
    if (std::isinf(hi))
      return fmt::format("must be {}{} {}", what.empty() ? "" : what + "and ", lo_open ? ">" : ">=", lo);
    return fmt::format("must be {}in {}{}, {}{}", what, lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  }
};

/// A rule on a value of type T: nullopt when it holds, else what it requires.
template <class T>
using Check = std::function<std::optional<std::string>(const T&)>;

/// Any of these strings.
template <class T>
Check<T> one_of(std::vector<T> allowed) {
  return [allowed](const T& v) -> std::optional<std::string> {
    for (auto& a : allowed)
      if (a == v) return std::nullopt;
    return fmt::format("must be one of {}", fmt::join(allowed, ", "));
  };
}

template <class O>
class OptionTable {
 public:
  struct Row {
    std::string key;    ///< in wms.yaml, dotted ("training.epochs")
    std::string param;  ///< in the recorded params ("epochs")
    std::string help;
    std::string rule;  ///< what the value must be ("" when anything of its type goes)
    std::function<void(O&, const Config&)> read;
    std::function<std::optional<std::string>(const O&)> check;  ///< nullopt, or "must be ... (found ...)"
    std::function<nlohmann::json(const O&)> record;
  };

  /// A numeric, boolean, string or list option. `at` (WMS_MEMBER) gives the member.
  template <class At>
  OptionTable&& add(std::string key, std::string param, At at, std::string help,
                    std::optional<Range> range = std::nullopt) && {
    using T = std::remove_cvref_t<std::invoke_result_t<At, O&>>;
    Row r{std::move(key), std::move(param), std::move(help), range ? range->rule() : "", {}, {}, {}};
    r.read = [at, key = r.key](O& o, const Config& c) {
      if (c.has(key)) at(o) = read_value<T>(c, key, at(o));
    };
    r.check = [at, range](const O& o) -> std::optional<std::string> {
      if (!range) return std::nullopt;
      const T& v = at(o);
      if constexpr (std::is_arithmetic_v<T>) {
        if (!range->holds(static_cast<double>(v))) return fmt::format("{} (found {})", range->rule(), v);
      } else if constexpr (std::is_same_v<T, std::vector<double>>) {
        for (double x : v)
          if (!range->holds(x)) return fmt::format("each {} (found {})", range->rule(), x);
      }
      return std::nullopt;
    };
    r.record = [at](const O& o) { return nlohmann::json(at(o)); };
    rows_.push_back(std::move(r));
    return std::move(*this);
  }

  /// An option with its own rule (a list of strings, ...).
  template <class At, class T = std::remove_cvref_t<std::invoke_result_t<At, O&>>>
  OptionTable&& add(std::string key, std::string param, At at, std::string help, Check<T> check,
                    std::string rule_text = "") && {
    std::move(*this).add(std::move(key), std::move(param), at, std::move(help));
    Row& r = rows_.back();
    r.rule = std::move(rule_text);
    r.check = [at, check](const O& o) -> std::optional<std::string> {
      const T& v = at(o);
      if (auto bad = check(v)) return fmt::format("{} (found {})", *bad, nlohmann::json(v).dump());
      return std::nullopt;
    };
    return std::move(*this);
  }

  /// An enum option: written and recorded by its name.
  template <class At, class E = std::remove_cvref_t<std::invoke_result_t<At, O&>>>
  OptionTable&& add(std::string key, std::string param, At at, std::string help, const Names<E>& names) && {
    Row r{std::move(key), std::move(param), std::move(help), "one of " + names.choices(), {}, {}, {}};
    r.read = [at, names, key = r.key](O& o, const Config& c) {
      if (c.has(key)) at(o) = names.parse(c.get_string(key, ""), c.source() + ": " + key);
    };
    r.check = [](const O&) { return std::optional<std::string>(); };  // an E is always a known value
    r.record = [at, names](const O& o) { return nlohmann::json(names.name(at(o))); };
    rows_.push_back(std::move(r));
    return std::move(*this);
  }

  /// Reads every row's key present in `c` into `o` (others keep their values), then
  /// validates. Throws InvalidInput "`source`: `key`: `rule` (found `value`)".
  void read(O& o, const Config& c) const {
    for (auto& r : rows_) r.read(o, c);
    validate(o, c.source());
  }
  /// Checks every row's value, whoever set it (wms.yaml, a preset, the command line).
  void validate(const O& o, const std::string& source) const {
    for (auto& r : rows_)
      if (auto bad = r.check(o)) throw InvalidInput("{}: {}: {}", source, r.key, *bad);
  }
  /// {param: value} for every row, in table order.
  nlohmann::json record(const O& o) const {
    nlohmann::json j = nlohmann::json::object();
    for (auto& r : rows_) j[r.param] = r.record(o);
    return j;
  }
  /// The rows, for help texts and `wms init`'s commented defaults.
  const std::vector<Row>& rows() const { return rows_; }

  /// Every row as commented-out YAML at its value in `defaults`, nested by key, with
  /// its help and rule: what `wms init` writes into wms.yaml so that a user sees every
  /// option without any being pinned.
  std::string commented_yaml(const O& defaults) const {
    std::string out;
    std::vector<std::string> open;  // the sections written so far, outermost first
    for (auto& r : rows_) {
      std::vector<std::string> path;
      for (std::size_t b = 0, dot; b <= r.key.size(); b = dot + 1) {
        dot = r.key.find('.', b);
        if (dot == std::string::npos) dot = r.key.size();
        path.push_back(r.key.substr(b, dot - b));
      }
      std::size_t same = 0;
      while (same < open.size() && same + 1 < path.size() && open[same] == path[same]) ++same;
      open.resize(same);
      for (; open.size() + 1 < path.size(); open.push_back(path[open.size()]))
        out += "# " + std::string(2 * open.size(), ' ') + path[open.size()] + ":\n";
      std::string line = "# " + std::string(2 * open.size(), ' ') + path.back() + ": " + r.record(defaults).dump();
      std::string note = r.help + (r.rule.empty() ? "" : "; " + r.rule);
      out += line + std::string(line.size() < 44 ? 44 - line.size() : 1, ' ') + "# " + note + "\n";
    }
    return out;
  }

 private:
  template <class T>
  static T read_value(const Config& c, const std::string& key, const T& fallback) {
    if constexpr (std::is_same_v<T, bool>)
      return c.get_bool(key, fallback);
    else if constexpr (std::is_integral_v<T>) {
      auto v = c.get_int(key, static_cast<std::int64_t>(fallback));
      if (std::is_unsigned_v<T> && v < 0) throw InvalidInput("{}: {}: must be >= 0 (found {})", c.source(), key, v);
      if (static_cast<std::int64_t>(static_cast<T>(v)) != v)
        throw InvalidInput("{}: {}: {} is out of range", c.source(), key, v);
      return static_cast<T>(v);
    } else if constexpr (std::is_floating_point_v<T>)
      return c.get_double(key, fallback);
    else if constexpr (std::is_same_v<T, std::string>)
      return c.get_string(key, fallback);
    else if constexpr (std::is_same_v<T, std::vector<double>>)
      return c.get_double_list(key, fallback);
    else
      static_assert(sizeof(T) == 0, "no Config reader for this option type");
  }

  std::vector<Row> rows_;
};

}  // namespace wms::util
