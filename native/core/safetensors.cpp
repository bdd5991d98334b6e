// See safetensors.h. Validation follows the official reader (huggingface/safetensors): the
// header is a JSON object of entries {dtype, shape, data_offsets} plus an optional
// __metadata__ string map, and the tensors' byte ranges tile the data section exactly.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/json.h"

namespace nq::st {

// The format is little-endian; we read and write the mapping as is.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

// Same cap as the official reader: a header this large is a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
  at::ScalarType scalar;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F32, "F32", 4, at::kFloat},   {DType::F16, "F16", 2, at::kHalf},
    {DType::BF16, "BF16", 2, at::kBFloat16}, {DType::U8, "U8", 1, at::kByte},
    {DType::I8, "I8", 1, at::kChar},      {DType::I32, "I32", 4, at::kInt},
    {DType::I64, "I64", 8, at::kLong},    {DType::BOOL, "BOOL", 1, at::kBool},
};
constexpr const char* kSupportedDTypes = "F32, F16, BF16, U8, I8, I32, I64, BOOL";

const DTypeEntry& entryOf(DType d) {
  for (const auto& e : kDTypes) {
    if (e.dtype == d) return e;
  }
  throw nq::Error("ST_DTYPE", "invalid safetensors dtype enum value");
}

const DTypeEntry* entryNamed(std::string_view name) {
  for (const auto& e : kDTypes) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

[[noreturn]] void fail(const char* code, const std::string& message) {
  throw nq::Error(code, message);
}

std::string errnoText() { return std::strerror(errno); }

std::string tensorContext(const std::string& path, const std::string& name) {
  return path + ": tensor " + json::quote(name) + ": ";
}

std::string shapeText(const std::vector<int64_t>& shape, const char* separator = ", ") {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += separator;
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// How a JSON value looks in a message: numbers as written, strings quoted, else the type.
std::string valueText(const json::Value& v) {
  if (v.isNumber()) return v.numberText();
  if (v.isString()) return json::quote(v.asString());
  return std::string("a JSON ") + v.typeName();
}

std::string joinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool isRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Closes a descriptor on every path out of a scope.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// Product of a shape times an element size, or false on uint64 overflow. A zero dimension
// makes the product zero whatever the others are.
bool byteCount(const std::vector<int64_t>& shape, size_t elementSize, uint64_t& out) {
  for (int64_t d : shape) {
    if (d == 0) {
      out = 0;
      return true;
    }
  }
  uint64_t n = elementSize;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  out = n;
  return true;
}

std::vector<int64_t> parseShape(const std::string& ctx, const json::Value& shape) {
  if (!shape.isArray()) {
    fail("ST_SHAPE", ctx + "shape must be a list of non-negative integers, got " + valueText(shape));
  }
  std::vector<int64_t> out;
  for (const auto& dim : shape.elements()) {
    uint64_t d = 0;
    try {
      d = dim.asUint64();
    } catch (const json::TypeError&) {
      fail("ST_SHAPE", ctx + "shape must be a list of non-negative integers, but it contains " +
                           valueText(dim));
    }
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("ST_SHAPE", ctx + "shape dimension " + dim.numberText() + " is larger than 2^63-1");
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

void parseOffsets(const std::string& ctx, const json::Value& offsets, uint64_t dataSize,
                  uint64_t& begin, uint64_t& end) {
  if (!offsets.isArray() || offsets.size() != 2) {
    std::string got = offsets.isArray() ? "a list of " + std::to_string(offsets.size()) + " entries"
                                        : valueText(offsets);
    fail("ST_OUT_OF_RANGE", ctx + "data_offsets must be [begin, end], got " + got);
  }
  uint64_t values[2];
  for (size_t i = 0; i < 2; ++i) {
    try {
      values[i] = offsets.at(i).asUint64();
    } catch (const json::TypeError&) {
      fail("ST_OUT_OF_RANGE", ctx + "data_offsets must hold two non-negative integers, but " +
                                  (i == 0 ? "begin" : "end") + " is " + valueText(offsets.at(i)));
    }
  }
  begin = values[0];
  end = values[1];
  std::string range = "[";
  range += std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (begin > end) fail("ST_OUT_OF_RANGE", ctx + "data_offsets " + range + " has begin > end");
  if (end > dataSize) {
    fail("ST_OUT_OF_RANGE", ctx + "data_offsets " + range + " reach beyond the data section of " +
                                std::to_string(dataSize) + " bytes (file truncated?)");
  }
}

// Throws INVALID_ARGUMENT unless `s` is valid UTF-8 (the reader rejects anything else).
void requireUtf8(const std::string& s, const std::string& what) {
  try {
    json::parse(json::quote(s));
  } catch (const json::ParseError& e) {
    fail("INVALID_ARGUMENT", what + " is not valid UTF-8: " + e.reason());
  }
}

}  // namespace

const char* dtypeName(DType d) { return entryOf(d).name; }
size_t dtypeSize(DType d) { return entryOf(d).size; }
at::ScalarType toScalarType(DType d) { return entryOf(d).scalar; }

DType fromScalarType(at::ScalarType t) {
  for (const auto& e : kDTypes) {
    if (e.scalar == t) return e.dtype;
  }
  fail("ST_DTYPE", std::string("torch dtype ") + c10::toString(t) +
                       " has no safetensors dtype here; supported: " + kSupportedDTypes);
}

// ---- File -------------------------------------------------------------------------------

std::shared_ptr<File> File::open(const std::string& path) {
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) fail("ST_IO", path + ": cannot open safetensors file: " + errnoText());
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) fail("ST_IO", path + ": cannot stat: " + errnoText());
  if (!S_ISREG(st.st_mode)) fail("ST_IO", path + ": not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    fail("ST_HEADER_LENGTH", path + ": file is " + std::to_string(size) +
                                 " bytes, too short for the 8-byte header length of a safetensors file");
  }

  std::shared_ptr<File> file(new File());
  file->path_ = path;
  // Private writable mapping (copy-on-write, like torch.UntypedStorage.from_file(shared=False)
  // used by the Python library): an in-place op on a zero-copy view then changes only this
  // process's pages instead of faulting; the file itself is never modified.
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd.fd, 0);
  if (map == MAP_FAILED) fail("ST_IO", path + ": cannot mmap " + std::to_string(size) + " bytes: " + errnoText());
  file->map_ = map;
  file->mapSize_ = size;
  file->self_ = file;
  file->parseHeader();
  return file;
}

File::~File() {
  if (map_) ::munmap(map_, mapSize_);
}

void File::parseHeader() {
  const auto* bytes = static_cast<const unsigned char*>(map_);
  uint64_t headerSize = 0;
  std::memcpy(&headerSize, bytes, 8);
  uint64_t available = mapSize_ - 8;
  if (headerSize > available) {
    fail("ST_HEADER_LENGTH", path_ + ": header length " + std::to_string(headerSize) +
                                 " exceeds the " + std::to_string(available) +
                                 " bytes that follow it (truncated, or not a safetensors file)");
  }
  if (headerSize > kMaxHeaderBytes) {
    fail("ST_HEADER_LENGTH", path_ + ": header length " + std::to_string(headerSize) +
                                 " is beyond the 100 MB limit for a safetensors header");
  }
  dataStart_ = 8 + headerSize;
  const uint64_t dataSize = mapSize_ - dataStart_;

  std::string_view text(reinterpret_cast<const char*>(bytes + 8), headerSize);
  json::Value root;
  try {
    json::ParseOptions options;
    options.allowDuplicateKeys = true;  // reported below with the tensor's name
    root = json::parse(text, options);
  } catch (const json::ParseError& e) {
    fail("ST_HEADER_JSON", path_ + ": header is not valid JSON: " + e.reason() + " at byte " +
                               std::to_string(e.offset()) + " of the header");
  }
  if (!root.isObject()) {
    fail("ST_HEADER_JSON", path_ + ": header must be a JSON object, got a JSON " + root.typeName());
  }

  std::set<std::string> seen;
  for (const auto& [name, entry] : root.items()) {
    if (!seen.insert(name).second) {
      fail("ST_HEADER_JSON", tensorContext(path_, name) + "name appears more than once in the header");
    }
    if (name == "__metadata__") {
      if (entry.isNull()) continue;
      if (!entry.isObject()) {
        fail("ST_HEADER_JSON", path_ + ": __metadata__ must be an object of strings, got a JSON " +
                                   entry.typeName());
      }
      for (const auto& [key, value] : entry.items()) {
        if (!value.isString()) {
          fail("ST_HEADER_JSON", path_ + ": __metadata__ value of " + json::quote(key) +
                                     " must be a string, got " + valueText(value));
        }
        if (!metadata_.emplace(key, value.asString()).second) {
          fail("ST_HEADER_JSON", path_ + ": __metadata__ key " + json::quote(key) + " appears twice");
        }
      }
      continue;
    }

    const std::string ctx = tensorContext(path_, name);
    if (!entry.isObject()) {
      fail("ST_HEADER_JSON", ctx + "entry must be an object {dtype, shape, data_offsets}, got " +
                                 valueText(entry));
    }
    std::set<std::string> keys;
    for (const auto& member : entry.items()) {
      const std::string& key = member.first;
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        fail("ST_HEADER_JSON", ctx + "unknown key " + json::quote(key) +
                                   " in entry (allowed: dtype, shape, data_offsets)");
      }
      if (!keys.insert(key).second) fail("ST_HEADER_JSON", ctx + "key " + json::quote(key) + " appears twice");
    }
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!entry.get(key)) fail("ST_HEADER_JSON", ctx + "entry lacks \"" + key + "\"");
    }

    TensorInfo info;
    info.name = name;
    const json::Value& dtype = *entry.get("dtype");
    const DTypeEntry* known = dtype.isString() ? entryNamed(dtype.asString()) : nullptr;
    if (!known) {
      fail("ST_DTYPE", ctx + "unknown dtype " + valueText(dtype) + "; supported: " + kSupportedDTypes);
    }
    info.dtype = known->dtype;
    info.shape = parseShape(ctx, *entry.get("shape"));
    parseOffsets(ctx, *entry.get("data_offsets"), dataSize, info.begin, info.end);
    uint64_t need = 0;
    if (!byteCount(info.shape, known->size, need)) {
      fail("ST_SIZE_MISMATCH", ctx + "shape " + shapeText(info.shape) + " of " + known->name +
                                   " overflows a 64-bit byte count");
    }
    if (need != info.end - info.begin) {
      fail("ST_SIZE_MISMATCH", ctx + "shape " + shapeText(info.shape) + " of " + known->name +
                                   " needs " + std::to_string(need) + " bytes but data_offsets [" +
                                   std::to_string(info.begin) + ", " + std::to_string(info.end) +
                                   "] span " + std::to_string(info.end - info.begin));
    }
    index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  // The ranges, sorted by (begin, end), must tile [0, dataSize) exactly; empty tensors may
  // sit at any boundary.
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : tensors_) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorInfo* last = nullptr;  // the tensor whose range ends at `covered`
  for (const TensorInfo* t : sorted) {
    if (t->begin < covered) {
      fail("ST_OVERLAP", path_ + ": tensors " + json::quote(last->name) + " [" +
                             std::to_string(last->begin) + ", " + std::to_string(last->end) + ") and " +
                             json::quote(t->name) + " [" + std::to_string(t->begin) + ", " +
                             std::to_string(t->end) + ") overlap in the data section");
    }
    if (t->begin > covered) {
      fail("ST_HOLE", tensorContext(path_, t->name) + "bytes [" + std::to_string(covered) + ", " +
                          std::to_string(t->begin) + ") of the data section before it" +
                          (last ? " (after tensor " + json::quote(last->name) + ")" : std::string()) +
                          " belong to no tensor");
    }
    covered = t->end;
    last = t;
  }
  if (covered != dataSize) {
    std::string after = last ? " after tensor " + json::quote(last->name) : std::string();
    fail("ST_HOLE", path_ + ": bytes [" + std::to_string(covered) + ", " + std::to_string(dataSize) +
                        ") at the end of the data section" + after + " belong to no tensor");
  }
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor File::tensor(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (!info) {
    fail("ST_MISSING", path_ + ": no tensor named " + json::quote(name) + " (the file holds " +
                           std::to_string(tensors_.size()) + " tensors)");
  }
  const DTypeEntry& dtype = entryOf(info->dtype);
  auto options = at::TensorOptions().dtype(dtype.scalar).device(at::kCPU);
  const uint64_t nbytes = info->end - info->begin;
  if (nbytes == 0) return at::empty(info->shape, options);
  char* data = static_cast<char*>(map_) + dataStart_ + info->begin;
  if (reinterpret_cast<uintptr_t>(data) % dtype.size == 0) {
    std::shared_ptr<const File> keepMapped = self_.lock();
    return at::from_blob(data, info->shape, [keepMapped](void*) {}, options);
  }
  at::Tensor copy = at::empty(info->shape, options);
  std::memcpy(copy.data_ptr(), data, nbytes);
  return copy;
}

// ---- Checkpoint -------------------------------------------------------------------------

Checkpoint Checkpoint::open(const std::string& dir) {
  Checkpoint ck;
  ck.dir_ = dir;
  const std::string indexPath = joinPath(dir, "model.safetensors.index.json");
  const std::string singlePath = joinPath(dir, "model.safetensors");

  if (!isRegularFile(indexPath)) {
    if (!isRegularFile(singlePath)) {
      fail("ST_IO", "no safetensors checkpoint in " + dir + ": looked for " + indexPath + " and " +
                        singlePath);
    }
    ck.files_.push_back(File::open(singlePath));
    for (const auto& t : ck.files_[0]->tensors()) ck.where_.emplace(t.name, 0);
    return ck;
  }

  std::ifstream in(indexPath, std::ios::binary);
  if (!in.is_open()) fail("ST_INDEX", indexPath + ": cannot open: " + errnoText());
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("ST_INDEX", indexPath + ": cannot read: " + errnoText());
  json::Value root;
  try {
    root = json::parse(buffer.str());
  } catch (const json::ParseError& e) {
    fail("ST_INDEX", indexPath + ": not valid JSON: " + e.what());
  }
  const json::Value* weightMap = root.get("weight_map");
  if (!weightMap || !weightMap->isObject()) {
    fail("ST_INDEX", indexPath + ": expected an object with a \"weight_map\" object (tensor name -> shard file)");
  }

  std::map<std::string, size_t> shardIndex;  // shard file name -> index into files_
  for (const auto& [name, shard] : weightMap->items()) {
    if (!shard.isString() || shard.asString().empty() || shard.asString()[0] == '/') {
      fail("ST_INDEX", indexPath + ": tensor " + json::quote(name) +
                           " maps to " + valueText(shard) + ", expected a shard file name relative to " + dir);
    }
    const std::string& shardName = shard.asString();
    auto it = shardIndex.find(shardName);
    if (it == shardIndex.end()) {
      const std::string shardPath = joinPath(dir, shardName);
      if (!isRegularFile(shardPath)) {
        fail("ST_INDEX", indexPath + ": shard " + json::quote(shardName) + " (holding tensor " +
                             json::quote(name) + ") is missing: no file " + shardPath);
      }
      ck.files_.push_back(File::open(shardPath));
      it = shardIndex.emplace(shardName, ck.files_.size() - 1).first;
    }
    if (!ck.files_[it->second]->find(name)) {
      fail("ST_INDEX", indexPath + ": tensor " + json::quote(name) + " is listed in shard " +
                           json::quote(shardName) + " but that shard does not contain it");
    }
    ck.where_.emplace(name, it->second);
  }
  return ck;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& entry : where_) out.push_back(entry.first);
  return out;
}

bool Checkpoint::has(const std::string& name) const { return where_.count(name) != 0; }

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("ST_MISSING", "checkpoint " + dir_ + " has no tensor named " + json::quote(name));
  return *files_[it->second]->find(name);
}

at::Tensor Checkpoint::get(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("ST_MISSING", "checkpoint " + dir_ + " has no tensor named " + json::quote(name));
  return files_[it->second]->tensor(name);
}

const std::string& Checkpoint::fileOf(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("ST_MISSING", "checkpoint " + dir_ + " has no tensor named " + json::quote(name));
  return files_[it->second]->path();
}

namespace {
// A sum in double is finite exactly when every element is (no float16/32 tensor overflows it).
bool allFinite(const at::Tensor& t) {
  if (!t.defined() || !at::isFloatingType(t.scalar_type()) || t.numel() == 0) return true;
  return std::isfinite(at::sum(t, at::kDouble).item<double>());
}
}  // namespace

void requireFinite(const at::Tensor& t, const std::string& name, const std::string& file, const at::Tensor& stored) {
  if (allFinite(t)) return;
  at::Tensor bad = at::isfinite(t).logical_not_().reshape({-1});
  const int64_t count = bad.sum().item<int64_t>();
  const int64_t first = bad.to(at::kByte).argmax().item<int64_t>();
  const std::string where = "tensor " + json::quote(name) + " in " + file + " holds " + std::to_string(count) +
                            " non-finite value" + (count == 1 ? "" : "s") + " (NaN or Inf; the first at flat index " +
                            std::to_string(first) + ")";
  if (stored.defined() && allFinite(stored)) {
    fail("WEIGHT_NONFINITE", where + " after conversion to " + c10::toString(t.scalar_type()) +
                                 ": the stored values exceed its range; load in a wider dtype (bfloat16 or float32)");
  }
  fail("WEIGHT_NONFINITE", where + "; the file is corrupt or was saved after training diverged");
}

// ---- write ------------------------------------------------------------------------------

namespace {

// A temporary file next to the target that disappears unless committed by rename.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target) {
    static std::atomic<unsigned> counter{0};
    path_ = target + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("ST_IO", target_ + ": cannot create temporary file " + path_ + ": " + errnoText());
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("ST_IO", target_ + ": write failed: " + errnoText());
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail("ST_IO", target_ + ": fsync failed: " + errnoText());
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("ST_IO", target_ + ": close failed: " + errnoText());
    if (::rename(path_.c_str(), target_.c_str()) != 0) {
      fail("ST_IO", target_ + ": cannot rename " + path_ + " into place: " + errnoText());
    }
    committed_ = true;
  }

 private:
  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
           const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> cpu;
  cpu.reserve(tensors.size());
  std::set<std::string> names;
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      requireUtf8(key, path + ": metadata key " + json::quote(key));
      requireUtf8(value, path + ": metadata value of " + json::quote(key));
      if (!first) header += ',';
      first = false;
      header += json::quote(key) + ":" + json::quote(value);
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::string ctx = tensorContext(path, name);
    if (name == "__metadata__") fail("INVALID_ARGUMENT", ctx + "the name is reserved for metadata");
    if (!names.insert(name).second) fail("INVALID_ARGUMENT", ctx + "name given more than once");
    requireUtf8(name, ctx + "name");
    if (!tensor.defined()) fail("INVALID_ARGUMENT", ctx + "tensor is undefined");
    DType dtype;
    try {
      dtype = fromScalarType(tensor.scalar_type());
    } catch (const nq::Error& e) {
      fail("ST_DTYPE", ctx + e.what());
    }
    at::Tensor t = tensor.to(at::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dtypeSize(dtype);
    std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
    if (header.size() > 1) header += ',';
    header += json::quote(name) + ":{\"dtype\":\"" + dtypeName(dtype) + "\",\"shape\":" +
              shapeText(shape, ",") + ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
    cpu.push_back(std::move(t));
  }
  header += "}";
  // Pad with spaces so the data section starts 8-byte aligned, as the official writer does.
  header.append((8 - header.size() % 8) % 8, ' ');

  TempFile out(path);
  const uint64_t headerSize = header.size();
  out.write(&headerSize, 8);
  out.write(header.data(), header.size());
  for (const auto& t : cpu) {
    const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (nbytes) out.write(t.const_data_ptr(), nbytes);
  }
  out.commit();
}

}  // namespace nq::st
