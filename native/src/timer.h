// Timer: a one-shot CLOCK_MONOTONIC timerfd watched by libuv.
//
// VRRP takeover time is a timer's lateness: Skew_Time is 60.9 ms at 100 ms adverts, and a
// setTimeout deadline lands on libuv's whole-millisecond clock, typically 1-2 ms late. A
// timerfd fires on the kernel's hrtimer within microseconds of a nanosecond deadline and
// wakes the loop's epoll at once.
#pragma once

#include <napi.h>

#include <optional>

#include "loop.h"

namespace kl {

class Timer : public Napi::ObjectWrap<Timer>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Timer(onFire)
  explicit Timer(const Napi::CallbackInfo& info);
  ~Timer() override;

  void Teardown() override;

 private:
  // arm(delayMs: number): (re)arms to fire once, delayMs from now (fractions count).
  Napi::Value Arm(const Napi::CallbackInfo& info);
  Napi::Value Disarm(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static void OnPoll(void* owner, int err);
  void SetTime(Napi::Env env, long long ns);
  void Release();

  AddonData* addon_;
  UniqueFd fd_;
  Poll poll_;
  Napi::FunctionReference on_fire_;
  std::optional<Napi::AsyncContext> async_;
  bool tracked_ = false;
};

}  // namespace kl
