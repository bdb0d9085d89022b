// Reading JS arguments with messages that name the method and the field at fault
// ("addAddress: options.prefixLen must be an integer from 0 to 32, got 33").
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "inet.h"

namespace kl {

// info[index] as an options object; `optional` accepts undefined as an empty object. `object`
// is what messages call it ("options", "filter").
class Options {
 public:
  Options(const Napi::CallbackInfo& info, size_t index, const char* method, bool optional = false,
          const char* object = "options");

  Napi::Value Get(const char* key) const { return obj_.Get(key); }
  std::string String(const char* key) const;
  uint32_t Uint(const char* key, uint32_t min, uint32_t max) const;
  std::optional<uint32_t> OptUint(const char* key, uint32_t min, uint32_t max) const;
  bool Bool(const char* key, bool fallback) const;
  // 4 or 6 as AF_INET / AF_INET6; AF_UNSPEC when absent and not `required`.
  int Family(const char* key, bool required) const;
  InetAddr Address(const char* key) const;
  std::optional<Mac> OptMac(const char* key) const;

 private:
  [[noreturn]] void Fail(const char* key, const std::string& expected) const;

  Napi::Env env_;
  Napi::Object obj_;
  std::string method_;
  std::string object_;
};

Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* method,
                           const char* name);
// An address of `family` (AF_INET / AF_INET6).
InetAddr AddressArg(const Napi::CallbackInfo& info, size_t index, const char* method,
                    const char* name, int family);

// How a value looks in an error message: strings quoted, numbers as written, else its type.
std::string Describe(Napi::Value value);

}  // namespace kl
