#include <mpi.h>

#include <string>
#include <vector>

#include "addon.h"
#include "gang.h"

namespace mpi_cluster {
namespace Group {
namespace {

// createGroup(comm, ranks: Int32Array, tag) -> handle. MPI_Comm_create_group is collective
// over the listed ranks only, so the rest of `comm` need not take part (unlike split); the
// tag tells apart groups being created at the same time from overlapping rank sets. The
// TS wrapper checks that the ranks are distinct, in range and include the caller.
Napi::Value CreateGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  if (!info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "ranks must be an Int32Array");
  }
  Napi::Int32Array ranks = info[1].As<Napi::Int32Array>();
  int tag = IntArg(info, 2, "tag");
  int count = CountOf(env, ranks.ElementLength(), "ranks");
  std::vector<int> members(ranks.Data(), ranks.Data() + count);

  MPI_Group parent = MPI_GROUP_NULL;
  MPI_Group group = MPI_GROUP_NULL;
  Check(env, MPI_Comm_group(comm, &parent), "MPI_Comm_group");
  int rc = MPI_Group_incl(parent, count, members.data(), &group);
  MPI_Group_free(&parent);
  Check(env, rc, "MPI_Group_incl");
  MPI_Comm result = MPI_COMM_NULL;
  rc = MPI_Comm_create_group(comm, group, tag, &result);
  MPI_Group_free(&group);
  Check(env, rc, "MPI_Comm_create_group");
  if (result == MPI_COMM_NULL) {
    throw Napi::RangeError::New(env, "ranks must include the calling rank");
  }
  std::vector<MPI_Comm>& comms = Data(env).comms;
  comms.push_back(result);
  return Napi::Number::New(env, static_cast<double>(comms.size() - 1));
}

}  // namespace

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("createGroup", Napi::Function::New(env, CreateGroup, "createGroup"));
}

}  // namespace Group
}  // namespace mpi_cluster
