#include "wms/serve/http_framing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>

namespace wms::serve {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  auto low = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return low(x) == low(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// RFC 9110 section 5.6.2: tchar.
bool is_tchar(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

void reject(FrameStep& out, int status, std::string message) {
  out.kind = FrameStep::Kind::kReject;
  out.status = status;
  out.message = std::move(message);
}

}  // namespace

FrameStep RequestFramer::step(std::string& buf) {
  FrameStep out;
  if (phase_ == Phase::kIdle) {
    // RFC 9112 section 2.2: empty lines before a request line are ignored.
    std::size_t lead = 0;
    while (lead < buf.size() && (buf[lead] == '\r' || buf[lead] == '\n')) ++lead;
    if (lead) buf.erase(0, lead);
    if (buf.empty()) return out;
    phase_ = Phase::kHead;
    scan_ = 0;
  }
  if (phase_ == Phase::kHead) {
    std::size_t end = std::string::npos;
    for (std::size_t i = scan_; i < buf.size(); ++i) {
      if (buf[i] != '\n') continue;
      if (i + 1 < buf.size() && buf[i + 1] == '\n') {
        end = i + 2;
        break;
      }
      if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
        end = i + 3;
        break;
      }
    }
    if (end == std::string::npos) {
      scan_ = buf.size() >= 2 ? buf.size() - 2 : 0;
      if (buf.size() > limits_.max_header_bytes)
        reject(out, 431, fmt::format("the request head is over {} bytes", limits_.max_header_bytes));
      return out;
    }
    if (end > limits_.max_header_bytes) {
      reject(out, 431, fmt::format("the request head is over {} bytes", limits_.max_header_bytes));
      return out;
    }
    auto head_end = parse_head(buf, end, out);
    if (!head_end) return out;
    head_end_ = chunk_pos_ = *head_end;
    in_trailer_ = false;
    phase_ = Phase::kBody;
    out.kind = FrameStep::Kind::kHead;
    out.body_bytes = chunked_ ? limits_.max_body_bytes : length_;
    return out;
  }
  std::optional<std::size_t> end;
  if (!chunked_) {
    if (buf.size() - head_end_ >= length_) end = head_end_ + length_;
  } else {
    end = frame_chunks(buf, out);
  }
  if (end) {
    out.kind = FrameStep::Kind::kRequest;
    out.end = *end;
    phase_ = Phase::kIdle;
  }
  return out;
}

bool RequestFramer::check_request_line(std::string_view line, FrameStep& out) {
  std::size_t a = line.find(' '), b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  std::string_view method = line.substr(0, a);
  std::string_view target = b == std::string_view::npos ? "" : line.substr(a + 1, b - a - 1);
  std::string_view version = b == std::string_view::npos ? "" : line.substr(b + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar) || target.empty() ||
      target.find_first_of(" \t") != std::string_view::npos || !version.starts_with("HTTP/") ||
      version.find(' ') != std::string_view::npos) {
    reject(out, 400, "a malformed request line (expected: METHOD /path HTTP/1.1)");
    return false;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    reject(out, 505, "only HTTP/1.0 and HTTP/1.1 are served");
    return false;
  }
  static const std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
  if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
    reject(out, 501, "unknown method (methods are case-sensitive: GET, POST, ...)");
    return false;
  }
  return true;
}

// Reads the framing headers of a head of `end` bytes and returns where the head ends
// now (an Expect line answered here is cut out); answers 400/413/501 itself.
std::optional<std::size_t> RequestFramer::parse_head(std::string& buf, std::size_t end, FrameStep& out) {
  std::string_view head(buf.data(), end);
  std::optional<std::uint64_t> length;
  std::string_view coding;
  bool has_coding = false, expect_continue = false;
  std::size_t expect_line = 0, expect_len = 0;
  if (!check_request_line(trim(head.substr(0, head.find('\n'))), out)) return std::nullopt;
  std::size_t pos = head.find('\n') + 1;
  while (pos < head.size()) {
    std::size_t nl = head.find('\n', pos);
    std::string_view raw = head.substr(pos, nl - pos);
    std::string_view line = trim(raw);
    std::size_t colon = line.find(':');
    // RFC 9112 section 5: no line folding, no whitespace before the colon; a proxy that
    // reads either differently could smuggle a request past this one.
    if (!line.empty() && (raw.front() == ' ' || raw.front() == '\t' || colon == std::string_view::npos || colon == 0 ||
                          line[colon - 1] == ' ' || line[colon - 1] == '\t')) {
      reject(out, 400, "a malformed header line (folded, or without 'name: value')");
      return std::nullopt;
    }
    if (!line.empty()) {
      std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
      if (!std::all_of(name.begin(), name.end(), is_tchar) ||
          std::any_of(value.begin(), value.end(),
                      [](unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7F; })) {
        reject(out, 400, "a header name that is not a token, or a control character in a value (RFC 9110 section 5)");
        return std::nullopt;
      }
      if (iequals(name, "content-length")) {
        std::uint64_t v = 0;
        bool digits =
            !value.empty() && std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (digits && value.size() > 18) {  // more than any upload could be
          reject(out, 413, fmt::format("the body is over {} bytes", limits_.max_body_bytes));
          return std::nullopt;
        }
        bool ok = digits;
        for (char ch : value) v = v * 10 + (ch - '0');
        if (!ok || (length && *length != v)) {
          reject(out, 400, "Content-Length must be one decimal number");
          return std::nullopt;
        }
        length = v;
      } else if (iequals(name, "transfer-encoding")) {
        if (has_coding) {  // several fields are one list (RFC 9110 section 5.3): refuse rather than guess
          reject(out, 400, "Transfer-Encoding given twice");
          return std::nullopt;
        }
        has_coding = true;
        coding = value;
      } else if (iequals(name, "expect") && iequals(value, "100-continue")) {
        expect_continue = true;
        expect_line = pos;
        expect_len = nl + 1 - pos;
      }
    }
    pos = nl + 1;
  }
  if (has_coding) {
    // RFC 9112 section 6.1: chunked must be the final coding; with Content-Length too
    // the message is a smuggling attempt or a broken proxy.
    std::string_view last =
        trim(coding.substr(coding.rfind(',') == std::string_view::npos ? 0 : coding.rfind(',') + 1));
    if (length) {
      reject(out, 400, "both Transfer-Encoding and Content-Length");
      return std::nullopt;
    }
    if (!iequals(last, "chunked") || coding.find(',') != std::string_view::npos) {
      reject(out, 501, "only Transfer-Encoding: chunked is supported");
      return std::nullopt;
    }
    chunked_ = true;
  } else {
    chunked_ = false;
    length_ = length.value_or(0);
    if (length_ > limits_.max_body_bytes) {
      reject(out, 413, fmt::format("the body is over {} bytes", limits_.max_body_bytes));
      return std::nullopt;
    }
  }
  if (expect_continue) {
    // Answered by the front; httplib must not answer it a second time after the body.
    buf.erase(expect_line, expect_len);
    end -= expect_len;
    out.send_continue = chunked_ || length_ > buf.size() - end;
  }
  return end;
}

// RFC 9112 section 7.1: chunk = size [; ext] CRLF data CRLF ... last-chunk trailer CRLF.
std::optional<std::size_t> RequestFramer::frame_chunks(std::string& buf, FrameStep& out) {
  const std::string& b = buf;
  for (;;) {
    if (chunk_pos_ - head_end_ > limits_.max_body_bytes + (64 << 10)) {
      reject(out, 413, fmt::format("the body is over {} bytes", limits_.max_body_bytes));
      return std::nullopt;
    }
    std::size_t nl = b.find('\n', chunk_pos_);
    if (nl == std::string::npos) {
      if (b.size() - chunk_pos_ > 4096) reject(out, 400, "a chunk-size line is too long");
      return std::nullopt;
    }
    std::string_view line = trim(std::string_view(b).substr(chunk_pos_, nl - chunk_pos_));
    if (in_trailer_) {
      chunk_pos_ = nl + 1;
      if (line.empty()) return dechunk(buf, chunk_pos_);
      if (chunk_pos_ - head_end_ > limits_.max_body_bytes + limits_.max_header_bytes) {
        reject(out, 431, "the trailer is too large");
        return std::nullopt;
      }
      continue;
    }
    std::string_view hex = trim(line.substr(0, line.find(';')));
    std::uint64_t size = 0;
    bool ok = !hex.empty() && hex.size() <= 15;
    for (char ch : hex) {
      int d = ch >= '0' && ch <= '9'   ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                       : -1;
      ok &= d >= 0;
      size = size * 16 + static_cast<std::uint64_t>(std::max(d, 0));
    }
    if (!ok) {
      reject(out, 400, "a chunk size is not a hexadecimal number");
      return std::nullopt;
    }
    if (size > limits_.max_body_bytes || (nl + 1 + size) - head_end_ > limits_.max_body_bytes + (64 << 10)) {
      reject(out, 413, fmt::format("the body is over {} bytes", limits_.max_body_bytes));
      return std::nullopt;
    }
    if (size == 0) {
      in_trailer_ = true;
      chunk_pos_ = nl + 1;
      continue;
    }
    std::size_t data_end = nl + 1 + size;
    if (b.size() < data_end + 2) return std::nullopt;
    if (b[data_end] != '\r' || b[data_end + 1] != '\n') {  // httplib would stop short there: refuse
      reject(out, 400, "chunk data is not followed by CRLF");
      return std::nullopt;
    }
    chunk_pos_ = data_end + 2;
  }
}

// Rewrites a complete chunked request [0, end) of buf as the same request with its
// body decoded and a Content-Length (trailer fields dropped): httplib 0.11 reads
// neither trailers nor a bare LF in chunked framing, and needs no framing at all now.
// Returns the new end.
std::size_t RequestFramer::dechunk(std::string& buf, std::size_t end) {
  const std::string& b = buf;
  std::string body;
  for (std::size_t pos = head_end_;;) {
    std::size_t nl = b.find('\n', pos);
    std::string_view line = trim(std::string_view(b).substr(pos, nl - pos));
    std::uint64_t size = std::strtoull(std::string(line.substr(0, line.find(';'))).c_str(), nullptr, 16);
    if (size == 0) break;
    body.append(b, nl + 1, size);
    pos = nl + 1 + size + 2;  // data CRLF
  }
  std::string head;
  for (std::size_t pos = 0; pos < head_end_;) {
    std::size_t nl = b.find('\n', pos);
    std::string_view line = std::string_view(b).substr(pos, nl + 1 - pos);
    std::string_view t = trim(line.substr(0, line.size() - 1));  // without its LF
    bool last = t.empty();
    if (last) head += fmt::format("Content-Length: {}\r\n", body.size());
    if (!iequals(t.substr(0, t.find(':')), "transfer-encoding")) head += line;
    pos = nl + 1;
  }
  std::string request = head + body;
  buf.replace(0, end, request);
  return request.size();
}

}  // namespace wms::serve
