// safetensors reader (mmap, validated header) and writer, plus HF checkpoint directories
// (model.safetensors or sharded via model.safetensors.index.json).
// Not here: dtype conversion or device placement (the model loader does that).
//
// Every violation throws nq::Error with a code below; the message names the file and, where
// one is at fault, the tensor.
//   ST_IO            cannot open / stat / mmap / write the file
//   ST_HEADER_LENGTH file shorter than 8 bytes, or header length beyond the file
//   ST_HEADER_JSON   header is not valid JSON, not an object, or an entry is malformed
//   ST_DTYPE         unknown dtype string
//   ST_SHAPE         shape is not a list of non-negative integers
//   ST_SIZE_MISMATCH shape x dtype size != data_offsets range
//   ST_OUT_OF_RANGE  data_offsets not [begin, end] with begin <= end <= data size
//   ST_OVERLAP       two tensors' byte ranges overlap
//   ST_HOLE          bytes of the data section not covered by any tensor
//   ST_INDEX         model.safetensors.index.json unreadable or naming missing shards
//   ST_MISSING       a tensor asked for is not in the file / checkpoint
//   WEIGHT_NONFINITE a floating-point tensor read from a file holds NaN or Inf (requireFinite)
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

namespace nq::st {

enum class DType { F32, F16, BF16, U8, I8, I32, I64, BOOL };

const char* dtypeName(DType d);          // "F32" ...
size_t dtypeSize(DType d);               // bytes per element
at::ScalarType toScalarType(DType d);
DType fromScalarType(at::ScalarType t);  // throws ST_DTYPE for types safetensors here lacks

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
};

// One mmapped .safetensors file. Immutable after open; safe to read from several threads.
class File {
 public:
  static std::shared_ptr<File> open(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;  // nullptr if absent
  // CPU tensor with the stored dtype and shape. Zero-copy view over the mapping when the data
  // is aligned for its dtype (the view keeps the file mapped), else a copy.
  at::Tensor tensor(const std::string& name) const;

 private:
  File() = default;
  void parseHeader();  // validates the mapped header; fills tensors_, index_, metadata_
  std::string path_;
  void* map_ = nullptr;
  size_t mapSize_ = 0;
  uint64_t dataStart_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<File> self_;
};

// A checkpoint directory: model.safetensors, or model.safetensors.index.json + its shards.
class Checkpoint {
 public:
  static Checkpoint open(const std::string& dir);
  const std::string& dir() const { return dir_; }
  std::vector<std::string> names() const;  // all tensor names, sorted
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws ST_MISSING naming the dir
  at::Tensor get(const std::string& name) const;          // throws ST_MISSING naming the dir
  const std::string& fileOf(const std::string& name) const;  // path of the file holding it

 private:
  std::string dir_;
  std::vector<std::shared_ptr<File>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

// The once-per-tensor NaN / Inf check of what a load read (one reduction, on the tensor's
// device): throws WEIGHT_NONFINITE naming `name`, `file`, how many values are not finite and
// the first one's flat index. Non-float tensors pass. `stored`, when given, is the tensor as
// stored before a dtype conversion: when it is finite, the message blames the conversion.
void requireFinite(const at::Tensor& t, const std::string& name, const std::string& file,
                   const at::Tensor& stored = at::Tensor());

// Writes tensors (any device; copied to CPU contiguous) in the safetensors format: header
// with 8-byte-aligned length, tensors in the given order, optional __metadata__.
void write(const std::string& path,
           const std::vector<std::pair<std::string, at::Tensor>>& tensors,
           const std::map<std::string, std::string>& metadata = {});

}  // namespace nq::st
