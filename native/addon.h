// Shared per-addon state and argument/error helpers. No MPI policy lives here.
#pragma once

#include <mpi.h>
#include <napi.h>

#include <cstdint>
#include <vector>

namespace mpi_cluster {

// Per-addon instance data (a worker thread loading the addon gets its own copy).
struct AddonData {
  // Communicator handles seen by JS are indices into this table; 0 = MPI_COMM_WORLD.
  // Freed slots hold MPI_COMM_NULL.
  std::vector<MPI_Comm> comms{MPI_COMM_WORLD};
  // JS error class (ClusterError) handed in by the TS wrapper: new ErrorClass(code, message).
  Napi::FunctionReference errorClass;
  Napi::FunctionReference requestConstructor;
};

AddonData& Data(Napi::Env env);

// Builds an error with a stable `code`, as the TS ClusterError if it was registered.
Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message);

// Throws ERR_MPI with MPI_Error_string text unless rc == MPI_SUCCESS.
void Check(Napi::Env env, int rc, const char* call);

// Throws ERR_MPI_NOT_INITIALIZED unless MPI is initialized and not yet finalized:
// most MPI calls outside that window abort the process instead of returning an error.
void RequireActive(Napi::Env env);

MPI_Comm CommArg(const Napi::CallbackInfo& info, size_t index);
int IntArg(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t index, const char* name);
// Byte count for an MPI call: MPI counts are int.
int CountOf(Napi::Env env, size_t length, const char* name);

}  // namespace mpi_cluster
