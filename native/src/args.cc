#include "args.h"

#include <cmath>

#include "errors.h"

namespace kl {

std::string Describe(Napi::Value value) {
  if (value.IsString()) return std::string("\"").append(value.As<Napi::String>().Utf8Value()) + "\"";
  if (value.IsNumber()) return value.ToString().Utf8Value();
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return value.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_function: return "a function";
    case napi_symbol: return "a symbol";
    case napi_bigint: return "a bigint";
    default: return "an object";
  }
}

Options::Options(const Napi::CallbackInfo& info, size_t index, const char* method, bool optional,
                 const char* object)
    : env_(info.Env()), method_(method), object_(object) {
  Napi::Value value = info[index];
  if (optional && value.IsUndefined()) {
    obj_ = Napi::Object::New(env_);
  } else if (value.IsObject()) {
    obj_ = value.As<Napi::Object>();
  } else {
    ThrowInvalidArg(env_, method_ + ": " + object_ + " must be an object, got " + Describe(value));
  }
}

void Options::Fail(const char* key, const std::string& expected) const {
  ThrowInvalidArg(env_, method_ + ": " + object_ + "." + key + " must be " + expected + ", got " +
                            Describe(obj_.Get(key)));
}

std::string Options::String(const char* key) const {
  Napi::Value value = obj_.Get(key);
  if (!value.IsString()) Fail(key, "a string");
  return value.As<Napi::String>().Utf8Value();
}

std::optional<uint32_t> Options::OptUint(const char* key, uint32_t min, uint32_t max) const {
  Napi::Value value = obj_.Get(key);
  if (value.IsUndefined()) return std::nullopt;
  const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  // Written so that NaN (and so any non-number) fails.
  if (!(n >= min && n <= max && std::floor(n) == n)) {
    Fail(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<uint32_t>(n);
}

uint32_t Options::Uint(const char* key, uint32_t min, uint32_t max) const {
  std::optional<uint32_t> n = OptUint(key, min, max);
  if (!n) Fail(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return *n;
}

bool Options::Bool(const char* key, bool fallback) const {
  Napi::Value value = obj_.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) Fail(key, "a boolean");
  return value.As<Napi::Boolean>().Value();
}

int Options::Family(const char* key, bool required) const {
  Napi::Value value = obj_.Get(key);
  if (value.IsUndefined() && !required) return AF_UNSPEC;
  const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  if (n != 4 && n != 6) Fail(key, "4 or 6");
  return n == 4 ? AF_INET : AF_INET6;
}

InetAddr Options::Address(const char* key) const {
  Napi::Value value = obj_.Get(key);
  std::optional<InetAddr> addr;
  if (value.IsString()) addr = ParseInet(value.As<Napi::String>().Utf8Value());
  if (!addr) Fail(key, "an IPv4 or IPv6 address string");
  return *addr;
}

std::optional<Mac> Options::OptMac(const char* key) const {
  Napi::Value value = obj_.Get(key);
  if (value.IsUndefined()) return std::nullopt;
  std::optional<Mac> mac;
  if (value.IsString()) mac = ParseMac(value.As<Napi::String>().Utf8Value());
  if (!mac) Fail(key, "a MAC address like \"02:00:5e:00:01:01\"");
  return mac;
}

Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* method,
                           const char* name) {
  Napi::Value value = info[index];
  if (!value.IsFunction()) {
    ThrowInvalidArg(info.Env(), std::string(method) + ": " + name + " must be a function, got " +
                                    Describe(value));
  }
  return value.As<Napi::Function>();
}

InetAddr AddressArg(const Napi::CallbackInfo& info, size_t index, const char* method,
                    const char* name, int family) {
  Napi::Value value = info[index];
  std::optional<InetAddr> addr;
  if (value.IsString()) addr = ParseInet(value.As<Napi::String>().Utf8Value());
  if (!addr || addr->family != family) {
    ThrowInvalidArg(info.Env(), std::string(method) + ": " + name + " must be an " +
                                    (family == AF_INET ? "IPv4" : "IPv6") +
                                    " address string, got " + Describe(value));
  }
  return *addr;
}

}  // namespace kl
