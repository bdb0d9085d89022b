// How the demo prints: headings, wrapped prose, verbatim output (tables, commands), and steps
// that take a while. On a terminal a step is one status line redrawn in place (a spinner, what
// is happening now, the seconds so far), then a check mark and the time it took. Without a
// terminal (a log, a test) there are no redraws: a line every 30 s while a step runs, and the
// same closing line.

export interface StepStatus {
  /** What the step is doing right now (shown after its title). */
  detail(text: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const REDRAW_MS = 100;
const LOG_EVERY_MS = 30_000;
const WIDTH = 100;
const MARGIN = '    ';
const tty = process.stdout.isTTY;

/** Ends the running step's status line without a closing line (after Ctrl-C). */
let abandon: (() => void) | undefined;

export const bold = (text: string): string => (tty ? `\x1b[1m${text}\x1b[0m` : text);

/** A heading for the next part of the demo. */
export function section(text: string): void {
  console.log(`\n${bold(`==> ${text}`)}`);
}

/** Output shown as it is (a table, a command line), under the heading. */
export function verbatim(text: string): void {
  console.log(text.replace(/\n+$/, '').replace(/^/gm, MARGIN));
}

/** Prose under the heading, wrapped to the width of a terminal. */
export function say(text: string): void {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && MARGIN.length + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  verbatim(lines.join('\n'));
}

/**
 * Erases the running step's status line and leaves it unfinished: what Ctrl-C says next starts
 * on a clean line, and the step's failure (the teardown pulled things from under it) is not shown.
 */
export function abandonStep(): void {
  abandon?.();
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Runs `work` under a status line; rethrows its error after marking the step failed. */
export async function step<T>(title: string, work: (s: StepStatus) => Promise<T>): Promise<T> {
  const started = Date.now();
  let detail = '';
  let frame = 0;
  const line = (): string => `${title} (${seconds(Date.now() - started)})${detail ? `: ${detail}` : ''}`;
  const timer = tty
    ? setInterval(() => {
      const text = `  ${FRAMES[frame++ % FRAMES.length] ?? ''} ${line()}`;
      process.stdout.write(`\r\x1b[K${text.slice(0, (process.stdout.columns || WIDTH) - 1)}`);
    }, REDRAW_MS)
    : setInterval(() => console.log(`  … ${line()}`), LOG_EVERY_MS);
  let abandoned = false;
  const erase = (): void => {
    clearInterval(timer);
    if (tty) process.stdout.write('\r\x1b[K');
  };
  abandon = () => {
    abandoned = true;
    erase();
  };
  const end = (mark: string): void => {
    abandon = undefined;
    if (abandoned) return;
    erase();
    console.log(`  ${mark} ${title} (${seconds(Date.now() - started)})`);
  };
  try {
    const result = await work({ detail: (text) => void (detail = text) });
    end('✓');
    return result;
  } catch (e) {
    end('✗');
    throw e;
  }
}
