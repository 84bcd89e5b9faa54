#include "tensor_table.h"

#include <stdexcept>
#include <string>
#include <unordered_set>

namespace ost {

int64_t TensorTable::add(at::Tensor t) {
  int64_t id = next_++;
  tensors_.emplace(id, std::move(t));
  return id;
}

const at::Tensor& TensorTable::get(int64_t id) const {
  auto it = tensors_.find(id);
  if (it == tensors_.end()) throw std::runtime_error("torch backend: no tensor with id " + std::to_string(id) + " (already released?)");
  return it->second;
}

void TensorTable::release(int64_t id) {
  if (tensors_.erase(id) == 0) throw std::runtime_error("torch backend: release of unknown tensor id " + std::to_string(id));
}

int64_t TensorTable::bytes() const {
  std::unordered_set<const void*> seen;
  int64_t total = 0;
  for (const auto& kv : tensors_) {
    const at::Tensor& t = kv.second;
    if (!t.defined() || !t.has_storage()) continue;
    const void* key = t.storage().unsafeGetStorageImpl();
    if (seen.insert(key).second) total += static_cast<int64_t>(t.storage().nbytes());
  }
  return total;
}

}  // namespace ost
