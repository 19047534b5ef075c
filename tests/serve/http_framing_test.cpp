// The request framer alone (RFC 9112): the same request framed the same way however its
// bytes are split, chunked bodies decoded, ambiguous framing refused, and random bytes
// never crash it or make it hold more than its limits.
#include "wms/serve/http_framing.hpp"

#include <gtest/gtest.h>

#include <random>

namespace wms::serve {
namespace {

using Kind = FrameStep::Kind;

// Feeds `bytes` in pieces of at most `piece` bytes; returns the requests framed, as
// they would be handed on, and the last step.
std::vector<std::string> frame_all(const std::string& bytes, std::size_t piece, FrameStep* last = nullptr,
                                   FramingLimits limits = {}) {
  RequestFramer f(limits);
  std::string buf;
  std::vector<std::string> out;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    buf += bytes.substr(at, piece);
    for (;;) {
      FrameStep s = f.step(buf);
      if (last) *last = s;
      if (s.kind == Kind::kRequest) {
        out.push_back(buf.substr(0, s.end));
        buf.erase(0, s.end);
        continue;
      }
      if (s.kind == Kind::kHead) continue;
      if (s.kind == Kind::kReject) return out;
      break;
    }
  }
  return out;
}

const std::string kPost = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n";

TEST(HttpFraming, SplitsDoNotChangeWhatIsFramed) {
  std::string two = kPost + "Content-Length: 5\r\n\r\nhello" + "\r\n" +  // an extra CRLF, as old clients send
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  auto whole = frame_all(two, two.size());
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_TRUE(whole[0].ends_with("\r\n\r\nhello"));
  EXPECT_TRUE(whole[1].starts_with("GET /healthz"));
  for (std::size_t piece : {1, 2, 3, 7, 16}) EXPECT_EQ(frame_all(two, piece), whole) << piece;
}

TEST(HttpFraming, ChunkedBodiesAreDecodedWithTheirLength) {
  std::string req =
      kPost + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{5}, req.size()}) {
    auto got = frame_all(req, piece);
    ASSERT_EQ(got.size(), 1u) << piece;
    EXPECT_TRUE(got[0].ends_with("Content-Length: 11\r\n\r\nhello world")) << got[0];
    EXPECT_EQ(got[0].find("Transfer-Encoding"), std::string::npos);
    EXPECT_EQ(got[0].find("X-Trailer"), std::string::npos);
  }
}

TEST(HttpFraming, ExpectContinueIsAnsweredOnceAndCutOut) {
  RequestFramer f;
  std::string buf = kPost + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  FrameStep head = f.step(buf);
  ASSERT_EQ(head.kind, Kind::kHead);
  EXPECT_TRUE(head.send_continue);
  EXPECT_EQ(head.body_bytes, 3u);
  EXPECT_EQ(buf.find("Expect"), std::string::npos);
  buf += "abc";
  FrameStep body = f.step(buf);
  ASSERT_EQ(body.kind, Kind::kRequest);
  EXPECT_EQ(body.end, buf.size());
}

TEST(HttpFraming, AmbiguousOrOversizedFramingIsRefused) {
  struct Case {
    std::string bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"garbage\r\n\r\n", 400},
      {"GET /x HTTP/2.0\r\n\r\n", 505},
      {"get /x HTTP/1.1\r\n\r\n", 501},
      {"GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400},
      {kPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {kPost + "Transfer-Encoding: gzip\r\n\r\n", 501},
      {kPost + "Content-Length: 99999999999\r\n\r\n", 413},
      {kPost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400},
      {kPost + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", 431},
  };
  for (const auto& c : cases) {
    FrameStep last;
    auto got = frame_all(c.bytes, c.bytes.size(), &last, FramingLimits{16 << 10, 1 << 20});
    EXPECT_TRUE(got.empty()) << c.bytes.substr(0, 60);
    EXPECT_EQ(last.kind, Kind::kReject) << c.bytes.substr(0, 60);
    EXPECT_EQ(last.status, c.status) << c.bytes.substr(0, 60) << ": " << last.message;
  }
}

TEST(HttpFraming, AChunkedBodyOverTheLimitIsRefusedWhileItArrives) {
  RequestFramer f(FramingLimits{16 << 10, 1 << 20});
  std::string buf = kPost + "Transfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(f.step(buf).kind, Kind::kHead);
  std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  FrameStep s;
  int chunks = 0;
  do {
    buf += chunk;
    s = f.step(buf);
    ++chunks;
  } while (s.kind == Kind::kMore && chunks < 100);
  EXPECT_EQ(s.kind, Kind::kReject);
  EXPECT_EQ(s.status, 413);
  EXPECT_LE(chunks, 17) << "refused as soon as the body passes 1 MiB";
}

TEST(HttpFraming, RandomBytesNeverCrashAndStayBounded) {
  std::mt19937 rng(7);
  const std::string alphabet = "GET POST /x HTTP/1.1\r\n:Content-Length: 0123456789abcdef chunked Transfer-Encoding\t;";
  for (int round = 0; round < 2000; ++round) {
    std::string bytes;
    std::size_t n = rng() % 400;
    for (std::size_t i = 0; i < n; ++i)
      bytes += rng() % 4 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng());
    FrameStep last;
    auto got = frame_all(bytes, 1 + rng() % 9, &last, FramingLimits{256, 512});
    for (const auto& r : got) EXPECT_LE(r.size(), 256u + 512u + 64u);
  }
}

}  // namespace
}  // namespace wms::serve
