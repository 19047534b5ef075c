// Framing HTTP/1.1 requests as their bytes arrive (RFC 9112), with no I/O: where a
// request's head ends, how long its body is (Content-Length or chunked), and whether it
// must be refused. Used by the HTTP front (http_server.hpp) for each connection.
//
// The framer refuses rather than guesses, so that no proxy in front can read a request
// differently (request smuggling): a malformed request line (400), an unknown method
// (501), another HTTP version (505), a folded or spaced header line, a control
// character in a value, Content-Length twice with different values, Transfer-Encoding
// twice or with Content-Length (400), a coding other than chunked (501), a head over
// max_header_bytes (431), a body over max_body_bytes (413, counted on the wire), bare LF
// after chunk data (400). A complete chunked request is rewritten with its body decoded
// and a Content-Length, trailers dropped; an Expect: 100-continue line is cut out (the
// front answers it).
//
// Not thread-safe: one framer per connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wms::serve {

struct FramingLimits {
  std::size_t max_header_bytes = 16 << 10;     ///< request line + headers
  std::uint64_t max_body_bytes = 20ull << 20;  ///< body bytes on the wire, chunk framing included
};

struct FrameStep {
  enum class Kind {
    kMore,     ///< wait for more bytes
    kHead,     ///< the head is complete and valid; call step() again for the body
    kRequest,  ///< a whole request is buf[0, end)
    kReject,   ///< refuse with status and message, then close
  };
  Kind kind = Kind::kMore;
  std::size_t end = 0;           ///< kRequest
  std::uint64_t body_bytes = 0;  ///< kHead: the body announced (the whole limit when chunked)
  bool send_continue = false;    ///< kHead: the client waits for "100 Continue" before its body
  int status = 0;                ///< kReject
  std::string message;           ///< kReject
};

class RequestFramer {
 public:
  explicit RequestFramer(FramingLimits limits = {}) : limits_(limits) {}

  /// Looks at what the connection received so far, `buf` (it may be rewritten: see
  /// above). After kRequest the framer is ready for the next request, which starts at
  /// buf[end] once the caller removes the first one.
  FrameStep step(std::string& buf);
  /// True before any byte of a request (empty lines between requests do not count).
  bool idle() const { return phase_ == Phase::kIdle; }

 private:
  enum class Phase { kIdle, kHead, kBody };
  bool check_request_line(std::string_view line, FrameStep& out);
  std::optional<std::size_t> parse_head(std::string& buf, std::size_t end, FrameStep& out);
  std::optional<std::size_t> frame_chunks(std::string& buf, FrameStep& out);
  std::size_t dechunk(std::string& buf, std::size_t end);

  FramingLimits limits_;
  Phase phase_ = Phase::kIdle;
  std::size_t scan_ = 0;      // head: where to resume looking for its end
  std::size_t head_end_ = 0;  // body: where the head ends
  bool chunked_ = false;
  std::uint64_t length_ = 0;   // Content-Length
  std::size_t chunk_pos_ = 0;  // chunked: next unparsed byte
  bool in_trailer_ = false;
};

}  // namespace wms::serve
