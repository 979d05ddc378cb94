#include <mpi.h>

#include <string>

#include "addon.h"
#include "gang.h"
#include "request.h"

namespace mpi_cluster {
namespace Reduce {
namespace {

// The one place typed-array element types meet MPI datatypes. Uint8ClampedArray has no
// MPI counterpart (MPI would wrap, not clamp) and is absent on purpose.
struct TypeEntry {
  napi_typedarray_type type;
  MPI_Datatype datatype;
};

const TypeEntry* FindType(napi_typedarray_type type) {
  static const TypeEntry table[] = {
      {napi_int8_array, MPI_INT8_T},        {napi_uint8_array, MPI_UINT8_T},
      {napi_int16_array, MPI_INT16_T},      {napi_uint16_array, MPI_UINT16_T},
      {napi_int32_array, MPI_INT32_T},      {napi_uint32_array, MPI_UINT32_T},
      {napi_float32_array, MPI_FLOAT},      {napi_float64_array, MPI_DOUBLE},
      {napi_bigint64_array, MPI_INT64_T},   {napi_biguint64_array, MPI_UINT64_T},
  };
  for (const TypeEntry& entry : table) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
}

// Operation numbers as the TS wrapper sends them (REDUCE_OPS in src/mpi/reduce-args.ts).
MPI_Op OpArg(const Napi::CallbackInfo& info, size_t index) {
  static const MPI_Op ops[] = {MPI_SUM, MPI_MIN, MPI_MAX, MPI_PROD};
  int op = IntArg(info, index, "op");
  if (op < 0 || op >= static_cast<int>(sizeof(ops) / sizeof(ops[0]))) {
    throw Napi::RangeError::New(info.Env(), "op must be 0..3 (sum, min, max, prod)");
  }
  return ops[op];
}

// A typed array's memory as MPI sees it. napi_get_typedarray_info gives the data pointer
// of ArrayBuffer- and SharedArrayBuffer-backed arrays alike, so neither is copied.
struct Array {
  Napi::Value value;
  napi_typedarray_type type;
  size_t length;
  void* data;
};

Array ArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  if (!info[index].IsTypedArray()) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a typed array");
  }
  Array array{info[index], napi_int8_array, 0, nullptr};
  napi_status status = napi_get_typedarray_info(env, info[index], &array.type, &array.length,
                                                &array.data, nullptr, nullptr);
  NAPI_THROW_IF_FAILED(env, status, array);
  return array;
}

// send and recv: same element type (one of the table's) and length; recv may be absent
// (null) where MPI ignores it (reduce off the root).
struct Operands {
  Array send;
  Array recv;
  bool hasRecv;
  MPI_Datatype datatype;
  int count;
};

Operands OperandsArg(const Napi::CallbackInfo& info, bool recvOptional) {
  Napi::Env env = info.Env();
  Operands o{ArrayArg(info, 1, "send"), {}, false, MPI_DATATYPE_NULL, 0};
  const TypeEntry* entry = FindType(o.send.type);
  if (entry == nullptr) {
    throw Napi::TypeError::New(env, "send's element type has no MPI datatype");
  }
  o.datatype = entry->datatype;
  o.count = CountOf(env, o.send.length, "send (elements)");
  o.hasRecv = !(recvOptional && info[2].IsNull());
  if (o.hasRecv) {
    o.recv = ArrayArg(info, 2, "recv");
    if (o.recv.type != o.send.type || o.recv.length != o.send.length) {
      throw Napi::RangeError::New(env, "recv must have send's element type and length");
    }
  }
  return o;
}

// iallreduce(comm, send, recv, op): element-wise over every rank; at most INT_MAX elements
// (the TS wrapper chunks longer arrays).
Napi::Value Iallreduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Operands o = OperandsArg(info, false);
  MPI_Op op = OpArg(info, 3);
  Request* request = Request::Create(env);
  Check(env,
        MPI_Iallreduce(o.send.data, o.recv.data, o.count, o.datatype, op, comm,
                       request->Handle()),
        "MPI_Iallreduce");
  request->Keep(o.send.value);
  request->Keep(o.recv.value);
  request->Started();
  return request->Value();
}

// ireduce(comm, send, recv | null, op, root): recv is only written (and required) on root.
Napi::Value Ireduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Operands o = OperandsArg(info, true);
  MPI_Op op = OpArg(info, 3);
  int root = IntArg(info, 4, "root");
  int rank = 0;
  Check(env, MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  if (rank == root && !o.hasRecv) {
    throw Napi::TypeError::New(env, "recv is required on the root");
  }
  Request* request = Request::Create(env);
  Check(env,
        MPI_Ireduce(o.send.data, o.hasRecv ? o.recv.data : nullptr, o.count, o.datatype, op, root,
                    comm, request->Handle()),
        "MPI_Ireduce");
  request->Keep(o.send.value);
  if (o.hasRecv) request->Keep(o.recv.value);
  request->Started();
  return request->Value();
}

}  // namespace

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("iallreduce", Napi::Function::New(env, Iallreduce, "iallreduce"));
  exports.Set("ireduce", Napi::Function::New(env, Ireduce, "ireduce"));
}

}  // namespace Reduce
}  // namespace mpi_cluster
