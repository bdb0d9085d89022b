// The command channel between the host (vm.ts) and the guest's runner (guest/runner.ts): one
// JSON object per line over a virtio-serial port. Byte payloads (stdin, stdout, stderr) travel
// base64-encoded, so output is captured exactly, whatever bytes a command writes.

/** Host -> guest. */
export type HostMessage =
  | {
      t: 'spawn';
      id: number;
      argv: string[];
      /** Merged over the runner's environment. */
      env?: Record<string, string>;
      cwd?: string;
      /** Base64; the command's stdin is closed after it. Absent with keepStdin: stdin stays open. */
      input?: string;
      keepStdin?: boolean;
      /** The guest SIGKILLs the command's process group after this long. 0: never. */
      timeoutMs: number;
    }
  | { t: 'stdin'; id: number; data: string }
  | { t: 'stdin-end'; id: number }
  | { t: 'kill'; id: number; signal: string }
  | { t: 'shutdown' };

/** Guest -> host. */
export type GuestMessage =
  | {
      t: 'ready';
      kernelRelease: string;
      /** Guest uptime (seconds, /proc/uptime) when the runner's code began to run. */
      runnerStartUptime: number;
      /** Guest uptime when the runner was ready. */
      uptime: number;
    }
  | { t: 'started'; id: number; pid: number }
  /** The command could not start (ENOENT, EACCES, ...). No 'exit' follows. */
  | { t: 'spawn-error'; id: number; message: string }
  | { t: 'out'; id: number; fd: 1 | 2; data: string }
  | {
      t: 'exit';
      id: number;
      /** Exit status, or null when a signal ended it. */
      code: number | null;
      signal: string | null;
      timedOut: boolean;
    }
  /** The runner itself hit an error (a malformed message, ...); logged by the host. */
  | { t: 'log'; message: string };
