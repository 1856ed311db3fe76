#include "file/file_pool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "gmm/layout.hpp"

namespace gmm {
namespace bip = boost::interprocess;

namespace {

class FilePoolMapping final : public PoolMapping {
 public:
  FilePoolMapping(std::string path, bip::file_mapping file, bip::mapped_region region)
      : path_(std::move(path)), file_(std::move(file)), region_(std::move(region)) {}
  std::byte* base() const override { return static_cast<std::byte*>(region_.get_address()); }
  std::uint64_t size() const override { return region_.get_size(); }
  std::string describe() const override { return "pool file " + path_; }

 private:
  std::string path_;
  bip::file_mapping file_;
  bip::mapped_region region_;
};

}  // namespace

Result<std::unique_ptr<PoolMapping>> create_pool_file(const std::string& path, std::uint64_t size) {
  using layout::kPageSize;
  if (size == 0 || size % kPageSize != 0)
    return make_error(Errc::kInvalidArgument, fmt::format("pool size {} is not a positive multiple of {}", size, kPageSize));
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
  if (fd < 0) return make_error(Errc::kIo, fmt::format("cannot create pool file {}: {}", path, std::strerror(errno)));
  int rc = ::ftruncate(fd, static_cast<off_t>(size));  // sparse: pages appear when touched
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    ::unlink(path.c_str());
    return make_error(Errc::kIo, fmt::format("cannot size pool file {} to {} bytes: {}", path, size, std::strerror(err)));
  }
  return map_pool_file(path);
}

Result<std::unique_ptr<PoolMapping>> map_pool_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(Errc::kIo, fmt::format("cannot open pool file {}: {}", path, std::strerror(errno)));
  if (st.st_size < static_cast<off_t>(sizeof(layout::Superblock)))
    return make_error(Errc::kBadPool, fmt::format("pool file {} is truncated: {} bytes, smaller than a superblock", path,
                                          static_cast<long long>(st.st_size)));
  try {
    bip::file_mapping file(path.c_str(), bip::read_write);
    bip::mapped_region region(file, bip::read_write);
    return std::unique_ptr<PoolMapping>(new FilePoolMapping(path, std::move(file), std::move(region)));
  } catch (const bip::interprocess_exception& e) {
    return make_error(Errc::kIo, fmt::format("cannot map pool file {}: {}", path, e.what()));
  }
}

}  // namespace gmm
