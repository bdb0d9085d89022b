// One JSON logger for the process (pino, to stdout).
import { pino } from 'pino';

export const log = pino({
  base: { component: process.env.KUBELIVED_COMPONENT ?? 'kubelived' },
  level: process.env.KUBELIVED_LOG_LEVEL ?? 'info',
  timestamp: pino.stdTimeFunctions.isoTime,
});
export type Logger = typeof log;
