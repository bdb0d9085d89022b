#include "errors.h"

#include <cerrno>
#include <cstring>

namespace kl {

// 'EADDRNOTAVAIL' for EADDRNOTAVAIL; "E<n>" for numbers glibc does not name.
static std::string ErrnoCode(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : std::string("E").append(std::to_string(err));
}

Napi::Error SysError::ToJs(Napi::Env env) const {
  return MakeSysError(env, err, syscall, what, detail);
}

Napi::Error MakeSysError(Napi::Env env, int err, const std::string& syscall,
                         const std::string& what, const std::string& detail) {
  std::string message = what + ": " + strerror(err);
  if (!detail.empty()) message += " (" + detail + ")";
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, err));
  obj.Set("code", Napi::String::New(env, ErrnoCode(err)));
  obj.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowErrno(Napi::Env env, const char* syscall, std::initializer_list<std::string_view> what) {
  const int err = errno;
  std::string joined;
  for (std::string_view part : what) joined += part;
  throw MakeSysError(env, err, syscall, joined);
}

void ThrowInvalidArg(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Value().Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  throw error;
}

}  // namespace kl
