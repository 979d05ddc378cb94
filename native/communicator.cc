#include "communicator.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "addon.h"
#include "request.h"

namespace mpi_cluster {
namespace Communicator {
namespace {

int SizeOf(Napi::Env env, MPI_Comm comm) {
  int size = 0;
  Check(env, MPI_Comm_size(comm, &size), "MPI_Comm_size");
  return size;
}

Napi::Value Rank(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  int rank = 0;
  Check(info.Env(), MPI_Comm_rank(CommArg(info, 0), &rank), "MPI_Comm_rank");
  return Napi::Number::New(info.Env(), rank);
}

Napi::Value Size(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  return Napi::Number::New(info.Env(), SizeOf(info.Env(), CommArg(info, 0)));
}

// split(comm, color, key) -> handle, or -1 where color < 0 (MPI_UNDEFINED: no new comm).
Napi::Value Split(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  int color = IntArg(info, 1, "color");
  int key = IntArg(info, 2, "key");
  MPI_Comm result = MPI_COMM_NULL;
  Check(env, MPI_Comm_split(comm, color < 0 ? MPI_UNDEFINED : color, key, &result),
        "MPI_Comm_split");
  if (result == MPI_COMM_NULL) return Napi::Number::New(env, -1);
  std::vector<MPI_Comm>& comms = Data(env).comms;
  comms.push_back(result);
  return Napi::Number::New(env, static_cast<double>(comms.size() - 1));
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  int handle = IntArg(info, 0, "comm");
  if (handle == 0) throw Napi::RangeError::New(env, "COMM_WORLD cannot be freed");
  Check(env, MPI_Comm_free(&comm), "MPI_Comm_free");
  Data(env).comms[handle] = MPI_COMM_NULL;
  return env.Undefined();
}

// Waits (at most timeout_ms) until the launcher has read what this process wrote to stdout and
// stderr: MPI_Abort tears the job down at once, and output still in the pipe is lost (MPICH's
// hydra reads ranks' output from pipes; Open MPI's from ptys).
void WaitForOutputRead(int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; ++waited) {
    bool pending = false;
    for (int fd : {1, 2}) {
      int unread = 0;
      if (ioctl(fd, isatty(fd) ? TIOCOUTQ : FIONREAD, &unread) == 0 && unread > 0) pending = true;
    }
    if (!pending) return;
    struct timespec one_ms = {0, 1000000};
    nanosleep(&one_ms, nullptr);
  }
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  WaitForOutputRead(1000);
  MPI_Abort(CommArg(info, 0), IntArg(info, 1, "code"));
  return info.Env().Undefined();  // not reached when MPI_Abort works
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  Check(info.Env(), MPI_Barrier(CommArg(info, 0)), "MPI_Barrier");
  return info.Env().Undefined();
}

Napi::Value Ibarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Request* request = Request::Create(env);
  Check(env, MPI_Ibarrier(comm, request->Handle()), "MPI_Ibarrier");
  request->Started();
  return request->Value();
}

// bcast(comm, buffer, root) and ibcast: the whole buffer, so length <= INT_MAX.
Napi::Value Bcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Napi::Buffer<uint8_t> buffer = BufferArg(info, 1, "buffer");
  int count = CountOf(env, buffer.Length(), "buffer");
  int root = IntArg(info, 2, "root");
  Check(env, MPI_Bcast(buffer.Data(), count, MPI_BYTE, root, comm), "MPI_Bcast");
  return env.Undefined();
}

Napi::Value Ibcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Napi::Buffer<uint8_t> buffer = BufferArg(info, 1, "buffer");
  int count = CountOf(env, buffer.Length(), "buffer");
  int root = IntArg(info, 2, "root");
  Request* request = Request::Create(env);
  Check(env, MPI_Ibcast(buffer.Data(), count, MPI_BYTE, root, comm, request->Handle()),
        "MPI_Ibcast");
  request->Keep(buffer);
  request->Started();
  return request->Value();
}

// allgather(comm, send, recv): every rank sends send.length bytes; recv holds size blocks.
struct Gather {
  MPI_Comm comm;
  Napi::Buffer<uint8_t> send;
  Napi::Buffer<uint8_t> recv;
  int count;
};

Gather GatherArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MPI_Comm comm = CommArg(info, 0);
  Napi::Buffer<uint8_t> send = BufferArg(info, 1, "send");
  Napi::Buffer<uint8_t> recv = BufferArg(info, 2, "recv");
  int count = CountOf(env, send.Length(), "send");
  if (recv.Length() < send.Length() * static_cast<size_t>(SizeOf(env, comm))) {
    throw Napi::RangeError::New(env, "recv must hold send.length * size bytes");
  }
  return {comm, send, recv, count};
}

Napi::Value Allgather(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  Gather g = GatherArgs(info);
  Check(info.Env(),
        MPI_Allgather(g.send.Data(), g.count, MPI_BYTE, g.recv.Data(), g.count, MPI_BYTE, g.comm),
        "MPI_Allgather");
  return info.Env().Undefined();
}

Napi::Value Iallgather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  Gather g = GatherArgs(info);
  Request* request = Request::Create(env);
  Check(env,
        MPI_Iallgather(g.send.Data(), g.count, MPI_BYTE, g.recv.Data(), g.count, MPI_BYTE, g.comm,
                       request->Handle()),
        "MPI_Iallgather");
  request->Keep(g.send);
  request->Keep(g.recv);
  request->Started();
  return request->Value();
}

// allgatherv(comm, send, recv, counts, displs): counts/displs are Int32Arrays of length
// size; every block must lie inside recv (checked here: MPI would write past it).
void ReadLayout(const Napi::CallbackInfo& info, const Gather& g, std::vector<int>& counts,
                std::vector<int>& displs) {
  Napi::Env env = info.Env();
  if (!info[3].IsTypedArray() || !info[4].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "counts and displs must be Int32Arrays");
  }
  Napi::Int32Array c = info[3].As<Napi::Int32Array>();
  Napi::Int32Array d = info[4].As<Napi::Int32Array>();
  size_t size = static_cast<size_t>(SizeOf(env, g.comm));
  if (c.ElementLength() != size || d.ElementLength() != size) {
    throw Napi::RangeError::New(env, "counts and displs must have one entry per rank");
  }
  counts.assign(c.Data(), c.Data() + size);
  displs.assign(d.Data(), d.Data() + size);
  for (size_t i = 0; i < size; i++) {
    if (counts[i] < 0 || displs[i] < 0 ||
        static_cast<size_t>(displs[i]) + static_cast<size_t>(counts[i]) > g.recv.Length()) {
      throw Napi::RangeError::New(env, "block " + std::to_string(i) + " lies outside recv");
    }
  }
}

Napi::Value Allgatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Gather g{comm, BufferArg(info, 1, "send"), BufferArg(info, 2, "recv"), 0};
  g.count = CountOf(env, g.send.Length(), "send");
  std::vector<int> counts;
  std::vector<int> displs;
  ReadLayout(info, g, counts, displs);
  Check(env,
        MPI_Allgatherv(g.send.Data(), g.count, MPI_BYTE, g.recv.Data(), counts.data(),
                       displs.data(), MPI_BYTE, comm),
        "MPI_Allgatherv");
  return env.Undefined();
}

Napi::Value Iallgatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Gather g{comm, BufferArg(info, 1, "send"), BufferArg(info, 2, "recv"), 0};
  g.count = CountOf(env, g.send.Length(), "send");
  Request* request = Request::Create(env);
  ReadLayout(info, g, request->counts, request->displs);
  Check(env,
        MPI_Iallgatherv(g.send.Data(), g.count, MPI_BYTE, g.recv.Data(), request->counts.data(),
                        request->displs.data(), MPI_BYTE, comm, request->Handle()),
        "MPI_Iallgatherv");
  request->Keep(g.send);
  request->Keep(g.recv);
  request->Started();
  return request->Value();
}

// igatherv(comm, send, recv, counts, displs, root): blocks of send.length bytes land in
// recv on root only; elsewhere recv, counts and displs are not read (MPI ignores them).
Napi::Value Igatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireActive(env);
  MPI_Comm comm = CommArg(info, 0);
  Gather g{comm, BufferArg(info, 1, "send"), BufferArg(info, 2, "recv"), 0};
  g.count = CountOf(env, g.send.Length(), "send");
  int root = IntArg(info, 5, "root");
  int rank = 0;
  Check(env, MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  Request* request = Request::Create(env);
  if (rank == root) ReadLayout(info, g, request->counts, request->displs);
  Check(env,
        MPI_Igatherv(g.send.Data(), g.count, MPI_BYTE, g.recv.Data(), request->counts.data(),
                     request->displs.data(), MPI_BYTE, root, comm, request->Handle()),
        "MPI_Igatherv");
  request->Keep(g.send);
  request->Keep(g.recv);
  request->Started();
  return request->Value();
}

}  // namespace

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("rank", Napi::Function::New(env, Rank, "rank"));
  exports.Set("size", Napi::Function::New(env, Size, "size"));
  exports.Set("split", Napi::Function::New(env, Split, "split"));
  exports.Set("free", Napi::Function::New(env, Free, "free"));
  exports.Set("abort", Napi::Function::New(env, Abort, "abort"));
  exports.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  exports.Set("ibarrier", Napi::Function::New(env, Ibarrier, "ibarrier"));
  exports.Set("bcast", Napi::Function::New(env, Bcast, "bcast"));
  exports.Set("ibcast", Napi::Function::New(env, Ibcast, "ibcast"));
  exports.Set("allgather", Napi::Function::New(env, Allgather, "allgather"));
  exports.Set("iallgather", Napi::Function::New(env, Iallgather, "iallgather"));
  exports.Set("allgatherv", Napi::Function::New(env, Allgatherv, "allgatherv"));
  exports.Set("iallgatherv", Napi::Function::New(env, Iallgatherv, "iallgatherv"));
  exports.Set("igatherv", Napi::Function::New(env, Igatherv, "igatherv"));
}

}  // namespace Communicator
}  // namespace mpi_cluster
