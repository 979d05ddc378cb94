#include "addon.h"

#include <climits>
#include <string>

#include "communicator.h"
#include "environment.h"
#include "gang.h"
#include "request.h"

namespace mpi_cluster {

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message) {
  AddonData& data = Data(env);
  if (!data.errorClass.IsEmpty()) {
    Napi::Object error =
        data.errorClass.New({Napi::String::New(env, code), Napi::String::New(env, message)});
    return Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void Check(Napi::Env env, int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  int errorClass = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) length = 0;
  MPI_Error_class(rc, &errorClass);
  std::string message = std::string(call) + " failed: " + std::string(text, length) +
                        " (MPI error class " + std::to_string(errorClass) + ")";
  throw CodedError(env, "ERR_MPI", message);
}

void RequireActive(Napi::Env env) {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) {
    throw CodedError(env, "ERR_MPI_NOT_INITIALIZED",
                     finalized ? "MPI has been finalized; no further MPI calls are allowed"
                               : "MPI is not initialized; call init() first");
  }
}

int IntArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  return info[index].As<Napi::Number>().Int32Value();
}

MPI_Comm CommArg(const Napi::CallbackInfo& info, size_t index) {
  int handle = IntArg(info, index, "comm");
  const std::vector<MPI_Comm>& comms = Data(info.Env()).comms;
  if (handle < 0 || static_cast<size_t>(handle) >= comms.size() || comms[handle] == MPI_COMM_NULL) {
    throw Napi::RangeError::New(info.Env(),
                                "comm handle " + std::to_string(handle) + " is not a live communicator");
  }
  return comms[handle];
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  }
  return info[index].As<Napi::Buffer<uint8_t>>();
}

int CountOf(Napi::Env env, size_t length, const char* name) {
  if (length > static_cast<size_t>(INT_MAX)) {
    throw Napi::RangeError::New(env, std::string(name) + " is " + std::to_string(length) +
                                         " bytes; one MPI call moves at most INT_MAX bytes");
  }
  return static_cast<int>(length);
}

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "errorClass must be a function");
  Data(info.Env()).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  Environment::Init(env, exports);
  Communicator::Init(env, exports);
  Group::Init(env, exports);
  Reduce::Init(env, exports);
  PointToPoint::Init(env, exports);
  Request::Init(env, exports);
  return exports;
}

}  // namespace
}  // namespace mpi_cluster

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return mpi_cluster::Init(env, exports);
}

NODE_API_MODULE(mpi_cluster, InitAddon)
