// Living on a Node environment's event loop: per-env bookkeeping of open kernel resources,
// libuv readiness polling, and calling into JS from libuv callbacks.
//
// The addon is loaded in worker threads, so nothing here is a mutable global: each env has its
// own AddonData (Node-API instance data), its own loop and its own resources.
#pragma once

#include <napi.h>
#include <uv.h>

#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace kl {

// Something holding kernel fds or libuv handles, which must be released when its env goes
// away (a worker exits or is terminated) even if JS never called close().
class Resource {
 public:
  virtual ~Resource() = default;
  // Releases fds and handles without calling into JS: the env is being torn down.
  virtual void Teardown() = 0;
};

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// setsockopt, throwing "setsockopt" errors that name the option and the socket:
// "IP_ADD_MEMBERSHIP on VrrpSocket eth0/IPv4: No such device".
template <typename T>
void SetSockOpt(Napi::Env env, int fd, int level, int name, const T& value, const char* optname,
                std::string_view where);

// Per-env instance data: the env's loop, its open resources, and its libuv handles still
// closing.
//
// When a worker's env goes away, Node runs the env cleanup hooks, then unloads (dlclose) the
// addons that env loaded, then runs the loop once more and aborts if any handle is still open.
// So every handle must be closed, and its close callback (code in this addon) must have run,
// before the unload. An async cleanup hook gives exactly that: it tears down the resources
// still open, and Node keeps running the loop until the hook reports that every close
// callback, including those of handles JS closed just before, has run.
class AddonData {
 public:
  explicit AddonData(napi_env env);
  ~AddonData();
  AddonData(const AddonData&) = delete;
  AddonData& operator=(const AddonData&) = delete;

  static AddonData& Of(napi_env env);

  uv_loop_t* loop() const { return loop_; }
  void Track(Resource* resource) { open_.insert(resource); }
  void Untrack(Resource* resource) { open_.erase(resource); }
  // uv_close() on a handle allocated with new; deleted once libuv is done with it.
  void CloseHandle(uv_handle_t* handle);

 private:
  static void Cleanup(napi_async_cleanup_hook_handle hook, void* arg);
  static void OnClosed(uv_handle_t* handle);
  void FinishCleanupIfDone();

  uv_loop_t* loop_ = nullptr;
  napi_async_cleanup_hook_handle hook_ = nullptr;
  bool cleaning_up_ = false;
  size_t closing_ = 0;
  std::unordered_set<Resource*> open_;
};

// A libuv poll handle watching one non-blocking socket for readability.
//
// libuv stops a poll handle when the fd reports POLLERR and calls back with UV_EBADF. Sockets
// report asynchronous errors exactly that way (netlink: a receive-buffer overrun, ENOBUFS),
// so on UV_EBADF Poll reads and clears the real error with SO_ERROR, restarts polling, and
// hands the error to the owner.
class Poll {
 public:
  // err == 0: the socket is readable; otherwise the socket's pending error (an errno).
  using Callback = void (*)(void* owner, int err);

  Poll(AddonData* addon, void* owner, Callback callback)
      : addon_(addon), owner_(owner), callback_(callback) {}
  ~Poll() { Close(); }
  Poll(const Poll&) = delete;
  Poll& operator=(const Poll&) = delete;

  // Returns 0 or a negative libuv error.
  int Open(int fd);
  // Returns 0 or a negative libuv error.
  int Start();
  void Stop();
  // Safe to call more than once. Polling stops at once, so the owner may close the fd next.
  void Close();

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);

  AddonData* addon_;
  void* owner_;
  Callback callback_;
  uv_poll_t* handle_ = nullptr;
  int fd_ = -1;
  bool active_ = false;
};

// The scope for running JS from a libuv callback: a handle scope, plus a callback scope so that
// the promise reactions and nextTicks that JS queues run when it closes, as they do after
// Node's own I/O callbacks.
class JsScope {
 public:
  // `resource` is the JS object the callback belongs to (for async_hooks).
  JsScope(napi_env env, const Napi::Reference<Napi::Object>& resource, napi_async_context context);
  ~JsScope();
  JsScope(const JsScope&) = delete;
  JsScope& operator=(const JsScope&) = delete;

 private:
  napi_env env_;
  Napi::HandleScope handles_;
  napi_callback_scope scope_ = nullptr;
};

// Calls fn from a libuv callback (inside a JsScope). An exception thrown by fn goes to
// process 'uncaughtException', as one thrown by an EventEmitter listener would; while the env
// shuts down JS cannot run and the call is dropped. Never throws.
void CallJs(napi_env env, napi_value fn, std::initializer_list<napi_value> args);

// Resolves or rejects a promise from a libuv callback; dropped while the env shuts down.
void Settle(napi_env env, napi_deferred deferred, bool resolve, napi_value value);

// Reports an exception caught in native code running outside any JS call.
void ReportUncaught(napi_env env, napi_value error);

[[noreturn]] void ThrowSetSockOpt(Napi::Env env, const char* optname, std::string_view where);

template <typename T>
void SetSockOpt(Napi::Env env, int fd, int level, int name, const T& value, const char* optname,
                std::string_view where) {
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) ThrowSetSockOpt(env, optname, where);
}

}  // namespace kl
