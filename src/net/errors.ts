/**
 * A kernel error from the native addon: errno is positive (as in os.constants.errno), code its
 * name ('EADDRNOTAVAIL'), syscall the call or netlink request that failed ('sendmsg',
 * 'RTM_NEWADDR'); the message names the operation and the object.
 */
export interface NetError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isNetError(err: unknown): err is NetError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<NetError>;
  return typeof e.errno === 'number' && typeof e.code === 'string' && typeof e.syscall === 'string';
}
