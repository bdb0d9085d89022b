#include "loop.h"

#include <sys/socket.h>

#include <vector>

#include "errors.h"

namespace kl {

void ThrowSetSockOpt(Napi::Env env, const char* optname, std::string_view where) {
  ThrowErrno(env, "setsockopt", {optname, " on ", where});
}

AddonData::AddonData(napi_env env) {
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop_));
  NAPI_THROW_IF_FAILED_VOID(env, napi_add_async_cleanup_hook(env, Cleanup, this, &hook_));
}

AddonData::~AddonData() {
  // Instance data is finalized after the cleanup hooks; the hook is only still registered if
  // it never ran.
  if (hook_ != nullptr) napi_remove_async_cleanup_hook(hook_);
}

AddonData& AddonData::Of(napi_env env) { return *Napi::Env(env).GetInstanceData<AddonData>(); }

void AddonData::CloseHandle(uv_handle_t* handle) {
  handle->data = this;
  closing_++;
  uv_close(handle, OnClosed);
}

void AddonData::OnClosed(uv_handle_t* handle) {
  auto* self = static_cast<AddonData*>(handle->data);
  // The kinds of handle the addon opens, each allocated with new.
  if (handle->type == UV_SIGNAL) {
    delete reinterpret_cast<uv_signal_t*>(handle);
  } else {
    delete reinterpret_cast<uv_poll_t*>(handle);
  }
  self->closing_--;
  self->FinishCleanupIfDone();
}

void AddonData::Cleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  auto* self = static_cast<AddonData*>(arg);
  self->hook_ = hook;
  self->cleaning_up_ = true;
  // Teardown() untracks, so iterate over a copy.
  const std::vector<Resource*> open(self->open_.begin(), self->open_.end());
  for (Resource* resource : open) resource->Teardown();
  self->open_.clear();
  self->FinishCleanupIfDone();
}

void AddonData::FinishCleanupIfDone() {
  if (!cleaning_up_ || closing_ > 0 || hook_ == nullptr) return;
  napi_async_cleanup_hook_handle hook = hook_;
  hook_ = nullptr;
  napi_remove_async_cleanup_hook(hook);
}

int Poll::Open(int fd) {
  handle_ = new uv_poll_t;
  const int rc = uv_poll_init_socket(addon_->loop(), handle_, fd);
  if (rc < 0) {
    // Never initialised, so never registered with the loop: plain delete, no uv_close.
    delete handle_;
    handle_ = nullptr;
    return rc;
  }
  handle_->data = this;
  fd_ = fd;
  return 0;
}

int Poll::Start() {
  if (handle_ == nullptr || active_) return 0;
  const int rc = uv_poll_start(handle_, UV_READABLE, OnPoll);
  active_ = rc == 0;
  return rc;
}

void Poll::Stop() {
  if (handle_ == nullptr || !active_) return;
  uv_poll_stop(handle_);
  active_ = false;
}

void Poll::Close() {
  if (handle_ == nullptr) return;
  // uv_close stops polling at once; from here on the handle belongs to AddonData.
  addon_->CloseHandle(reinterpret_cast<uv_handle_t*>(handle_));
  handle_ = nullptr;
  active_ = false;
}

void Poll::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<Poll*>(handle->data);
  int err = 0;
  if (status == UV_EBADF) {
    // libuv has stopped the handle (see the class comment): fetch the error, poll again.
    socklen_t len = sizeof err;
    if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    self->active_ = false;
    const int rc = self->Start();
    if (rc < 0 && err == 0) err = -rc;
  } else if (status < 0) {
    err = -status;  // libuv errors are negated errnos on Linux
  }
  self->callback_(self->owner_, err);
}

JsScope::JsScope(napi_env env, const Napi::Reference<Napi::Object>& resource,
                 napi_async_context context)
    : env_(env), handles_(env) {
  // Value() needs the handle scope opened above.
  if (napi_open_callback_scope(env, resource.Value(), context, &scope_) != napi_ok) {
    scope_ = nullptr;
  }
}

JsScope::~JsScope() {
  if (scope_ != nullptr) napi_close_callback_scope(env_, scope_);
}

void ReportUncaught(napi_env env, napi_value error) {
  // napi_fatal_exception refuses to run while an exception is pending.
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  napi_fatal_exception(env, error);
}

// After a failed call: route a pending JS exception to 'uncaughtException'. No exception
// pending means JS could not run at all (the env is shutting down): nothing to report.
static void ReportPending(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
}

void CallJs(napi_env env, napi_value fn, std::initializer_list<napi_value> args) {
  napi_value global;
  napi_value result;
  if (napi_get_global(env, &global) != napi_ok ||
      napi_call_function(env, global, fn, args.size(), args.begin(), &result) != napi_ok) {
    ReportPending(env);
  }
}

void Settle(napi_env env, napi_deferred deferred, bool resolve, napi_value value) {
  const napi_status status = resolve ? napi_resolve_deferred(env, deferred, value)
                                     : napi_reject_deferred(env, deferred, value);
  if (status != napi_ok) ReportPending(env);
}

}  // namespace kl
