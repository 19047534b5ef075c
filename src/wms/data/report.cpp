#include "wms/data/report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wms::data {

std::string severity_name(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kOff: return "off";
  }
  return "error";
}

std::size_t Report::errors() const {
  std::size_t n = 0;
  for (const auto& i : issues) n += i.severity == Severity::kError;
  return n;
}

std::size_t Report::warnings() const {
  std::size_t n = 0;
  for (const auto& i : issues) n += i.severity == Severity::kWarning;
  return n;
}

nlohmann::json Report::to_json() const {
  nlohmann::json issues_json = nlohmann::json::array();
  for (const auto& i : issues)
    issues_json.push_back(
        {{"rule", i.rule}, {"severity", severity_name(i.severity)}, {"files", i.files}, {"message", i.message}});
  return {{"source", source},
          {"validation_passed", ok()},
          {"errors", errors()},
          {"warnings", warnings()},
          {"files_checked", files_checked},
          {"files_ignored", files_ignored},
          {"ignored", ignored},
          {"pairs_found", pairs_found},
          {"pairs_valid", pairs_valid},
          {"new_images", new_images},
          {"duplicate_images", duplicate_images},
          {"existing_images", existing_images},
          {"total_images", total_images},
          {"seconds", seconds},
          {"issues", issues_json}};
}

std::string Report::to_text() const {
  std::string out;
  std::size_t file_w = 4, rule_w = 4;
  std::vector<std::string> file_cells;
  for (const auto& i : issues) {
    std::string f;
    for (const auto& p : i.files) f += (f.empty() ? "" : ", ") + p;
    file_cells.push_back(f);
    file_w = std::max(file_w, std::min<std::size_t>(f.size(), 48));
    rule_w = std::max(rule_w, i.rule.size());
  }
  if (!issues.empty()) {
    out += fmt::format("{:<7}  {:<{}}  {:<{}}  {}\n", "LEVEL", "RULE", rule_w, "FILE", file_w, "MESSAGE");
    for (std::size_t k = 0; k < issues.size(); ++k) {
      const auto& i = issues[k];
      out += fmt::format("{:<7}  {:<{}}  {:<{}}  {}\n", severity_name(i.severity), i.rule, rule_w, file_cells[k],
                         file_w, i.message);
    }
    out += "\n";
  }
  out += fmt::format(
      "{}: {} — {} pairs found, {} valid ({} new, {} already stored or duplicated), {} error(s), "
      "{} warning(s); dataset would hold {} images ({} + {} new){} ({:.1f}s)\n",
      source, ok() ? "PASSED" : "FAILED", pairs_found, pairs_valid, new_images, duplicate_images, errors(), warnings(),
      total_images, existing_images, new_images,
      files_ignored ? fmt::format("; {} file(s) ignored by name ({}{})", files_ignored, ignored.front(),
                                  files_ignored > 1 ? ", ..." : "")
                    : "",
      seconds);
  return out;
}

}  // namespace wms::data
