#include "timer.h"

#include <sys/timerfd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>

#include "args.h"
#include "errors.h"

namespace kl {

Napi::Function Timer::Define(Napi::Env env) {
  return DefineClass(env, "Timer",
                     {
                         InstanceMethod<&Timer::Arm>("arm"),
                         InstanceMethod<&Timer::Disarm>("disarm"),
                         InstanceMethod<&Timer::Close>("close"),
                     });
}

Timer::Timer(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Timer>(info), addon_(&AddonData::Of(info.Env())), poll_(addon_, this, OnPoll) {
  Napi::Env env = info.Env();
  Napi::Function on_fire = FunctionArg(info, 0, "Timer", "onFire");
  fd_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!fd_) ThrowErrno(env, "timerfd_create", {"Timer"});
  const int rc = poll_.Open(fd_.get());
  if (rc < 0) {
    errno = -rc;
    ThrowErrno(env, "uv_poll_init", {"Timer"});
  }
  on_fire_ = Napi::Persistent(on_fire);
  async_.emplace(env, "kubelived:Timer", info.This().As<Napi::Object>());
  Ref();
  addon_->Track(this);
  tracked_ = true;
}

Timer::~Timer() { Release(); }

void Timer::Teardown() { Release(); }

void Timer::Release() {
  poll_.Close();
  fd_.reset();
  if (tracked_) {
    addon_->Untrack(this);
    tracked_ = false;
  }
}

void Timer::SetTime(Napi::Env env, long long ns) {
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  if (timerfd_settime(fd_.get(), 0, &spec, nullptr) < 0) ThrowErrno(env, "timerfd_settime", {"Timer"});
}

Napi::Value Timer::Arm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!tracked_) throw MakeSysError(env, EBADF, "timerfd_settime", "Timer", "Timer closed");
  if (info.Length() < 1 || !info[0].IsNumber() || !std::isfinite(info[0].As<Napi::Number>().DoubleValue())) {
    ThrowInvalidArg(env, "Timer.arm: delayMs must be a finite number, got " + Describe(info[0]));
  }
  const double ms = info[0].As<Napi::Number>().DoubleValue();
  // An all-zero it_value disarms the timer: a deadline already passed fires after 1 ns.
  const long long ns = ms > 0 ? std::max(1LL, static_cast<long long>(std::llround(ms * 1e6))) : 1;
  SetTime(env, ns);
  // Only an armed timer keeps the loop alive, as with setTimeout.
  const int rc = poll_.Start();
  if (rc < 0) {
    errno = -rc;
    ThrowErrno(env, "uv_poll_start", {"Timer"});
  }
  return env.Undefined();
}

Napi::Value Timer::Disarm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (tracked_) {
    SetTime(env, 0);
    poll_.Stop();
  }
  return env.Undefined();
}

Napi::Value Timer::Close(const Napi::CallbackInfo& info) {
  if (tracked_) {
    Release();
    on_fire_.Reset();
    Unref();
  }
  return info.Env().Undefined();
}

void Timer::OnPoll(void* owner, int err) {
  auto* self = static_cast<Timer*>(owner);
  Napi::Env env = self->Env();
  // Reading the expiration count makes the fd unreadable until the next arm().
  uint64_t expirations = 0;
  const ssize_t n = read(self->fd_.get(), &expirations, sizeof expirations);
  if (err != 0 || n != sizeof expirations) return;  // re-armed meanwhile (EAGAIN): not due yet
  self->poll_.Stop();
  JsScope scope(env, *self, *self->async_);
  CallJs(env, self->on_fire_.Value(), {});
}

}  // namespace kl
