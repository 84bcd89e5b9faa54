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
  const at::Tensor& x(size_t i) const;
  /** Input i when it is present (TypeScript passes id 0 for an absent optional input). */
  c10::optional<at::Tensor> maybe(size_t i) const;
};

using Outputs = std::vector<at::Tensor>;
using OpFn = std::function<Outputs(OpCall&)>;
using OpTable = std::map<std::string, OpFn>;

/** Where new tensors are made (set by the glue from OPENSORA_DEVICE / setDevice). */
at::Device currentDevice();

void addElementwiseOps(OpTable& t);
void addReduceOps(OpTable& t);
void addCopyOps(OpTable& t);
void addMatmulOps(OpTable& t);
void addConvOps(OpTable& t);
void addNormOps(OpTable& t);
void addAttentionOps(OpTable& t);

/** Throws a JsError naming the op: `<op>: <message>`. */
[[noreturn]] void fail(const OpCall& c, const std::string& message);

}  // namespace ost
