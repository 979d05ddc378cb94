#include <mpi.h>

#include "addon.h"
#include "gang.h"
#include "request.h"

namespace mpi_cluster {
namespace PointToPoint {
namespace {

// isend(comm, data: Buffer, dest, tag) -> Request: one message of data.length bytes
// (<= INT_MAX; the TS wrapper refuses longer ones).
Napi::Value Isend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Napi::Buffer<uint8_t> data = BufferArg(info, 1, "data");
  int count = CountOf(env, data.Length(), "data");
  int dest = IntArg(info, 2, "dest");
  int tag = IntArg(info, 3, "tag");
  Request* request = Request::Create(env);
  Check(env, MPI_Isend(data.Data(), count, MPI_BYTE, dest, tag, comm, request->Handle()),
        "MPI_Isend");
  request->Keep(data);
  request->Started();
  return request->Value();
}

// improbeRecv(comm, source, tag) -> null, or { request, data } once a message from
// source with tag is there: MPI_Improbe matches it (no other receive can take it any
// more), and MPI_Imrecv starts receiving it into a new Buffer of its size at once. Doing
// both in one call means a matched message can never be left unreceived (an abandoned
// communicator simply stops polling before a match, or after the receive started).
Napi::Value ImprobeRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  int source = IntArg(info, 1, "source");
  int tag = IntArg(info, 2, "tag");
  int found = 0;
  MPI_Message message = MPI_MESSAGE_NULL;
  MPI_Status status;
  Check(env, MPI_Improbe(source, tag, comm, &found, &message, &status), "MPI_Improbe");
  if (!found) return env.Null();
  int count = 0;
  Check(env, MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(count));
  Request* request = Request::Create(env);
  Check(env, MPI_Imrecv(data.Data(), count, MPI_BYTE, &message, request->Handle()), "MPI_Imrecv");
  request->Keep(data);
  request->Started();
  Napi::Object result = Napi::Object::New(env);
  result.Set("request", request->Value());
  result.Set("data", data);
  return result;
}

}  // namespace

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("isend", Napi::Function::New(env, Isend, "isend"));
  exports.Set("improbeRecv", Napi::Function::New(env, ImprobeRecv, "improbeRecv"));
}

}  // namespace PointToPoint
}  // namespace mpi_cluster
