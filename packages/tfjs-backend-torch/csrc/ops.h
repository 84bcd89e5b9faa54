// The op table: every op the addon runs, by name. An op takes its inputs (already viewed with
// the shapes TypeScript passed) and named attrs, and returns its outputs; the glue stores them
// and hands ids back. TypeScript kernels reach an op by the same name (src/addon.ts types them).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "convert.h"

namespace ost {

struct OpCall {
  const char* name;
  std::vector<at::Tensor> in;
  Attrs attrs;
  /**
   * Set by an op whose outputs partition one input (Unpack, SplitV): a contiguous output may stay
   * a view into that input's storage (as PyTorch's split / unbind leave it) instead of a copy.
   */
  bool outputsMayShareStorage = false;
  const at::Tensor& x(size_t i) const;
  /** Input i when it is present (TypeScript passes id 0 for an absent optional input). */
  c10::optional<at::Tensor> maybe(size_t i) const;
};

using Outputs = std::vector<at::Tensor>;
using OpFn = std::function<Outputs(OpCall&)>;
using OpTable = std::map<std::string, OpFn>;

/** Where new tensors are made (set by the glue from OPENSORA_DEVICE / setDevice). */
at::Device currentDevice();

/**
 * OPENSORA_PRECISION (set by the glue, setPrecision): fp32 (default, parity), tf32 (CUDA only:
 * cuBLAS and cuDNN may use TF32 tensor cores) or bf16 (matmul, conv and attention compute in
 * bfloat16; their float32 inputs are cast down and their outputs back up, so tfjs sees float32).
 */
enum class Precision { fp32, tf32, bf16 };
Precision currentPrecision();
/** A float32 operand in the compute dtype of matmul / conv / attention (bf16 under bf16). */
at::Tensor lowp(const at::Tensor& t);
/** A result back in float32 when lowp changed its dtype; others as they are. */
at::Tensor fullp(const at::Tensor& t);

void addElementwiseOps(OpTable& t);
void addReduceOps(OpTable& t);
void addCopyOps(OpTable& t);
void addMatmulOps(OpTable& t);
void addConvOps(OpTable& t);
void addNormOps(OpTable& t);
void addAttentionOps(OpTable& t);
void addOptimOps(OpTable& t);

/** Throws a JsError naming the op: `<op>: <message>`. */
[[noreturn]] void fail(const OpCall& c, const std::string& message);

}  // namespace ost
