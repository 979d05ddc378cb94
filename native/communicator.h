// Communicator operations on integer handles (0 = MPI_COMM_WORLD): queries, split/free,
// abort, and the byte-buffer collectives in blocking and nonblocking (Request) forms
// (igatherv: nonblocking only).
#pragma once

#include <napi.h>

namespace mpi_cluster {
namespace Communicator {

void Init(Napi::Env env, Napi::Object exports);

}  // namespace Communicator
}  // namespace mpi_cluster
