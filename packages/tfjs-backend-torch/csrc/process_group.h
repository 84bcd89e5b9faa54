// c10d in the addon: a TCPStore + ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA) per
// connected group, collectives that run off the JS thread and return Promises, and a
// heartbeat thread that names a lost rank. See process_group.cc.
#pragma once
#include <node_api.h>

#include <ATen/ATen.h>

#include "tensor_table.h"

namespace ost {

/** The addon's tensor table (addon.cc): the device path reduces tensors by id. JS thread only. */
TensorTable& tensorTable();
/** Adds c10dConnect, c10dAllReduce, ... to the addon's exports. */
void addProcessGroupFunctions(napi_env env, napi_value exports);

}  // namespace ost
