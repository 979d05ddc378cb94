#include "environment.h"

#include <dlfcn.h>

#include <string>

#include "addon.h"

namespace mpi_cluster {
namespace Environment {
namespace {

// JS thread levels are 0..3 in the standard's order; the MPI_THREAD_* values are
// implementation-defined, so translate both ways.
const int kThreadLevels[] = {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED,
                             MPI_THREAD_MULTIPLE};

// Node loads addons with RTLD_LOCAL, so libmpi's symbols are invisible to the plugins
// Open MPI dlopen()s later (mca_*.so), which then fail to resolve them. Re-open the
// already loaded libmpi with RTLD_GLOBAL, as mpi4py does. Harmless for MPICH.
void PromoteLibmpiToGlobal() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init), &info) == 0 || info.dli_fname == nullptr) return;
  // The handle is deliberately kept: libmpi stays loaded for the life of the process.
  dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

Napi::Value InitMpi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int level = IntArg(info, 0, "threadLevel");
  if (level < 0 || level > 3) throw Napi::RangeError::New(env, "threadLevel must be 0..3");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) throw CodedError(env, "ERR_MPI", "MPI is already initialized");
  PromoteLibmpiToGlobal();
  int provided = 0;
  // Errors inside MPI_Init_thread go to MPI_ERRORS_ARE_FATAL by default: there is no
  // communicator to attach a handler to yet.
  Check(env, MPI_Init_thread(nullptr, nullptr, kThreadLevels[level], &provided), "MPI_Init_thread");
  Check(env, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  Check(env, MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  for (int i = 0; i < 4; i++) {
    if (kThreadLevels[i] == provided) return Napi::Number::New(env, i);
  }
  return Napi::Number::New(env, 0);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  Check(info.Env(), MPI_Finalize(), "MPI_Finalize");
  return info.Env().Undefined();
}

Napi::Value Initialized(const Napi::CallbackInfo& info) {
  int flag = 0;
  MPI_Initialized(&flag);
  return Napi::Boolean::New(info.Env(), flag != 0);
}

Napi::Value Finalized(const Napi::CallbackInfo& info) {
  int flag = 0;
  MPI_Finalized(&flag);
  return Napi::Boolean::New(info.Env(), flag != 0);
}

Napi::Value ProcessorName(const Napi::CallbackInfo& info) {
  RequireActive(info.Env());
  char name[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  Check(info.Env(), MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
  return Napi::String::New(info.Env(), name, length);
}

std::string LibraryVersion() {
  // Allowed before MPI_Init and after MPI_Finalize.
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  if (MPI_Get_library_version(version, &length) != MPI_SUCCESS) return "";
  std::string text(version, length);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

Napi::Value GetLibraryVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), LibraryVersion());
}

Napi::Value Vendor(const Napi::CallbackInfo& info) {
#if defined(I_MPI_VERSION)
  const std::string vendor = "Intel MPI";
#elif defined(OPEN_MPI)
  const std::string vendor = "Open MPI";
#elif defined(MVAPICH2_VERSION) || defined(MVAPICH_VERSION)
  const std::string vendor = "MVAPICH";
#elif defined(MPICH) || defined(MPICH_VERSION)
  const std::string vendor = "MPICH";
#else
  std::string vendor = LibraryVersion();
  vendor = vendor.substr(0, vendor.find_first_of("\n,"));
  if (vendor.empty()) vendor = "unknown";
#endif
  return Napi::String::New(info.Env(), vendor);
}

}  // namespace

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, InitMpi, "init"));
  exports.Set("finalize", Napi::Function::New(env, Finalize, "finalize"));
  exports.Set("initialized", Napi::Function::New(env, Initialized, "initialized"));
  exports.Set("finalized", Napi::Function::New(env, Finalized, "finalized"));
  exports.Set("processorName", Napi::Function::New(env, ProcessorName, "processorName"));
  exports.Set("libraryVersion", Napi::Function::New(env, GetLibraryVersion, "libraryVersion"));
  exports.Set("vendor", Napi::Function::New(env, Vendor, "vendor"));
}

}  // namespace Environment
}  // namespace mpi_cluster
