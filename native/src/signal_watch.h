// SignalWatch: a libuv signal watcher on the calling thread's own loop.
//
// Node delivers signals to JS on the main thread only. The VRRP thread watches SIGTERM itself,
// so its priority-0 adverts leave without waiting for the main thread to notice the signal and
// pass a message: the backup's takeover clock starts with that advert. libuv dispatches a
// signal to every loop that watches it, so the main thread still sees it too.
#pragma once

#include <napi.h>
#include <uv.h>

#include <optional>

#include "loop.h"

namespace kl {

class SignalWatch : public Napi::ObjectWrap<SignalWatch>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env);

  // new SignalWatch(signum, onSignal): does not keep the event loop alive.
  explicit SignalWatch(const Napi::CallbackInfo& info);
  ~SignalWatch() override;

  void Teardown() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  static void OnSignal(uv_signal_t* handle, int signum);
  void Release();

  AddonData* addon_;
  uv_signal_t* handle_ = nullptr;
  Napi::FunctionReference on_signal_;
  std::optional<Napi::AsyncContext> async_;
};

}  // namespace kl
