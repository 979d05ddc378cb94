// A pending nonblocking MPI operation. JS polls it with test(); until it completes the
// request keeps itself and every buffer MPI reads or writes alive (the GC must not
// move or free them under MPI).
#pragma once

#include <mpi.h>
#include <napi.h>

#include <vector>

namespace mpi_cluster {

class Request : public Napi::ObjectWrap<Request> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // A new JS Request object; fill it, start the MPI call on Handle(), then Started().
  static Request* Create(Napi::Env env);

  explicit Request(const Napi::CallbackInfo& info);

  MPI_Request* Handle() { return &request_; }
  void Keep(Napi::Value value);
  // Storage for count/displacement arrays that must outlive the call (MPI reads them
  // until completion).
  std::vector<int> counts;
  std::vector<int> displs;
  void Started();

 private:
  Napi::Value Test(const Napi::CallbackInfo& info);
  void Release();

  MPI_Request request_ = MPI_REQUEST_NULL;
  std::vector<Napi::Reference<Napi::Value>> kept_;
  bool pending_ = false;
};

}  // namespace mpi_cluster
