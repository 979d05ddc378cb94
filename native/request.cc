#include "request.h"

#include "addon.h"

namespace mpi_cluster {

void Request::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor =
      DefineClass(env, "Request", {InstanceMethod<&Request::Test>("test")});
  Data(env).requestConstructor = Napi::Persistent(constructor);
  exports.Set("Request", constructor);
}

Request* Request::Create(Napi::Env env) {
  return Unwrap(Data(env).requestConstructor.New({}));
}

Request::Request(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Request>(info) {}

void Request::Keep(Napi::Value value) { kept_.push_back(Napi::Persistent(value)); }

void Request::Started() {
  pending_ = true;
  Ref();  // strong until completion, so a dropped request cannot free live buffers
}

void Request::Release() {
  if (!pending_) return;
  pending_ = false;
  kept_.clear();
  counts.clear();
  displs.clear();
  Unref();
}

Napi::Value Request::Test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!pending_) return Napi::Boolean::New(env, true);
  RequireActive(env);
  int done = 0;
  int rc = MPI_Test(&request_, &done, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) {
    Release();
    Check(env, rc, "MPI_Test");
  }
  if (done) Release();
  return Napi::Boolean::New(env, done != 0);
}

}  // namespace mpi_cluster
