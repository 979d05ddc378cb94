// Operations added for gang tasks (issue 21), one file each: group communicators
// (group.cc), element-wise reductions of typed arrays (reduce.cc) and point-to-point
// messages of any length (p2p.cc). Same conventions as communicator.cc: integer
// communicator handles, nonblocking forms return a Request that keeps its memory alive.
#pragma once

#include <napi.h>

namespace mpi_cluster {
namespace Group {
void Init(Napi::Env env, Napi::Object exports);
}  // namespace Group
namespace Reduce {
void Init(Napi::Env env, Napi::Object exports);
}  // namespace Reduce
namespace PointToPoint {
void Init(Napi::Env env, Napi::Object exports);
}  // namespace PointToPoint
}  // namespace mpi_cluster
