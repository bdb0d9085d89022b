#include "signal_watch.h"

#include <csignal>
#include <cerrno>

#include "args.h"
#include "errors.h"

namespace kl {

Napi::Function SignalWatch::Define(Napi::Env env) {
  return DefineClass(env, "SignalWatch", {InstanceMethod<&SignalWatch::Close>("close")});
}

SignalWatch::SignalWatch(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<SignalWatch>(info), addon_(&AddonData::Of(info.Env())) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowInvalidArg(env, "SignalWatch: signum must be a signal number, got " + Describe(info[0]));
  }
  const int signum = info[0].As<Napi::Number>().Int32Value();
  if (signum <= 0 || signum >= NSIG) {
    ThrowInvalidArg(env, "SignalWatch: signum must be a signal number, got " + std::to_string(signum));
  }
  Napi::Function on_signal = FunctionArg(info, 1, "SignalWatch", "onSignal");
  handle_ = new uv_signal_t;
  int rc = uv_signal_init(addon_->loop(), handle_);
  if (rc == 0) {
    handle_->data = this;
    rc = uv_signal_start(handle_, OnSignal, signum);
  }
  if (rc < 0) {
    addon_->CloseHandle(reinterpret_cast<uv_handle_t*>(handle_));
    handle_ = nullptr;
    errno = -rc;
    ThrowErrno(env, "uv_signal_start", {"SignalWatch"});
  }
  // A watcher alone must not keep a thread running, as with process.on('SIGTERM').
  uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
  on_signal_ = Napi::Persistent(on_signal);
  async_.emplace(env, "kubelived:SignalWatch", info.This().As<Napi::Object>());
  Ref();
  addon_->Track(this);
}

SignalWatch::~SignalWatch() { Release(); }

void SignalWatch::Teardown() { Release(); }

void SignalWatch::Release() {
  if (handle_ == nullptr) return;
  uv_signal_stop(handle_);
  addon_->CloseHandle(reinterpret_cast<uv_handle_t*>(handle_));
  handle_ = nullptr;
  addon_->Untrack(this);
}

Napi::Value SignalWatch::Close(const Napi::CallbackInfo& info) {
  if (handle_ != nullptr) {
    Release();
    on_signal_.Reset();
    Unref();
  }
  return info.Env().Undefined();
}

void SignalWatch::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<SignalWatch*>(handle->data);
  Napi::Env env = self->Env();
  JsScope scope(env, *self, *self->async_);
  CallJs(env, self->on_signal_.Value(), {Napi::Number::New(env, signum)});
}

}  // namespace kl
