#include "wms/util/hash.hpp"

#include <gtest/gtest.h>

#include "testing.hpp"
#include "wms/util/fs.hpp"

namespace wms::util {
namespace {

// Reference values: RFC 1321 and FIPS 180-2 test vectors.
TEST(Hash, Md5MatchesRfc1321Vectors) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
}

TEST(Hash, Sha256MatchesFipsVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, FileAndIncrementalAgreeWithOneShot) {
  wms::testing::TempDir t;
  std::string data(200000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  atomic_write(t / "f", data);
  EXPECT_EQ(md5_file(t / "f"), md5_hex(data));
  Md5 m;
  m.update(data.substr(0, 12345));
  m.update(data.substr(12345));
  EXPECT_EQ(m.hex(), md5_hex(data));
}

TEST(Hash, IsMd5Hex) {
  EXPECT_TRUE(is_md5_hex("d41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_FALSE(is_md5_hex("D41D8CD98F00B204E9800998ECF8427E"));
  EXPECT_FALSE(is_md5_hex("d41d8cd98f00b204e9800998ecf8427"));
  EXPECT_FALSE(is_md5_hex("../../../../etc/passwd0000000000"));
}

// RFC 4648 section 10's test vectors.
TEST(Hash, Base64OfRfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\xfe", 3)), "/wD+");
}

}  // namespace
}  // namespace wms::util
