// Kernel and argument errors as JS exceptions.
//
// Every kernel failure surfaces in JS as an Error with `errno` (positive, as in <errno.h> and
// os.constants.errno), `code` ('EADDRNOTAVAIL'), `syscall` (the call or netlink request that
// failed: 'sendmsg', 'RTM_NEWADDR') and a message naming the operation and the object, e.g.
// "RTM_NEWADDR 198.18.0.100/24 on eth0: File exists".
#pragma once

#include <napi.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace kl {

// A failed system call or netlink request, for code that has no Napi::Env at hand (netlink
// parsing); converted with ToJs() at the JS boundary.
struct SysError {
  int err;
  std::string syscall;
  // What was attempted, on what: "RTM_NEWADDR 198.18.0.100/24 on eth0".
  std::string what;
  // Extra text from the kernel (netlink extended ack), may be empty.
  std::string detail;

  Napi::Error ToJs(Napi::Env env) const;
};

Napi::Error MakeSysError(Napi::Env env, int err, const std::string& syscall,
                         const std::string& what, const std::string& detail = {});

// Throws a SysError for `errno` as left by the failed call. `what` comes in pieces that are
// joined only after errno has been read, so building the message cannot clobber it.
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall,
                             std::initializer_list<std::string_view> what);

// A TypeError with code ERR_INVALID_ARG_VALUE, for arguments JS got wrong (not kernel errors).
[[noreturn]] void ThrowInvalidArg(Napi::Env env, const std::string& message);

}  // namespace kl
