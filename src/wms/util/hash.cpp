#include "wms/util/hash.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>

#include "wms/util/error.hpp"

namespace wms::util {
namespace {

std::string to_hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  return out;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr) != 1) throw Internal("EVP_Digest failed");
  return to_hex(out, n);
}

}  // namespace

struct Md5::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Md5::Md5() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_md5(), nullptr) != 1) throw Internal("md5 init failed");
}
Md5::~Md5() = default;

void Md5::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
}

std::string Md5::hex() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(impl_->ctx, out, &n);
  return to_hex(out, n);
}

std::string md5_hex(std::string_view bytes) {
  return digest(EVP_md5(), bytes);
}
std::string sha256_hex(std::string_view bytes) {
  return digest(EVP_sha256(), bytes);
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string md5_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path.string(), "open", errno);
  Md5 md5;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw IoError(path.string(), "read", err);
    }
    if (n == 0) break;
    md5.update(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return md5.hex();
}

bool is_md5_hex(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace wms::util
