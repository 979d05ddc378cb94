// MPI environment: init / finalize, state queries, library identity.
#pragma once

#include <napi.h>

namespace mpi_cluster {
namespace Environment {

void Init(Napi::Env env, Napi::Object exports);

}  // namespace Environment
}  // namespace mpi_cluster
