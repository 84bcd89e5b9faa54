// The tensors the backend owns: id -> at::Tensor. TypeScript holds ids only; an id lives
// until `release`. Releasing an unknown id throws (a double free is a bug in the backend).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <unordered_map>

namespace ost {

class TensorTable {
 public:
  int64_t add(at::Tensor t);
  const at::Tensor& get(int64_t id) const;
  void release(int64_t id);
  size_t count() const { return tensors_.size(); }
  /** Bytes of the distinct storages the live tensors hold (views of one storage count once). */
  int64_t bytes() const;

 private:
  std::unordered_map<int64_t, at::Tensor> tensors_;
  int64_t next_ = 1;
};

}  // namespace ost
