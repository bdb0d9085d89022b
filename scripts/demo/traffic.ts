// The client's side of the demo: which node answers the VIP (by the MAC of its reply, and by
// the name the web server on each node answers with), once or every CURL_EVERY_MS.
import type { Lab } from '../../test/lab/lab.ts';
import { sleep } from '../../test/lab/run.ts';
import { section, verbatim } from './output.ts';

export const CURL_EVERY_MS = 100;
const NO_ANSWER = 'no answer';

export interface CurlAnswer {
  t: number;
  /** The node whose web server answered, or 'no answer'. */
  who: string;
}

export function nodeOf(lab: Lab, mac: string | undefined): string {
  return lab.nodes.find((n) => n.mac === mac)?.name ?? `unknown MAC ${mac ?? '(none)'}`;
}

/** The nodes that hold `ip` on their interface right now. */
export async function holders(lab: Lab, ip: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of lab.nodes) if ((await lab.addresses(n)).includes(ip)) out.push(n.name);
  return out;
}

async function curl(lab: Lab, url: string): Promise<string> {
  const r = await lab.exec(lab.client.netns, ['curl', '-s', '-m', '0.5', url], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : `${NO_ANSWER} (curl exit code ${r.code})`;
}

/** From the client: whose MAC answers a ping to the VIP, and whose web server answers on it. */
export async function showClientView(lab: Lab, vip: string, url: string): Promise<void> {
  section(`from the client (${lab.client.ipv4})`);
  await lab.exec(lab.client.netns, ['ping', '-c', '1', '-W', '1', vip], { allowFail: true });
  const mac = await lab.neighMac(lab.client, vip);
  verbatim(`$ ping ${vip}: answered from MAC ${mac ?? '(none)'}, that is ${nodeOf(lab, mac)}
$ curl ${url}: ${await curl(lab, url)}`);
}

/** Fetches `url` every CURL_EVERY_MS until stopped; stop() rejects if a fetch could not run. */
export function curlLoop(lab: Lab, url: string): { stop(): Promise<CurlAnswer[]> } {
  const answers: CurlAnswer[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = Date.now();
      const body = await curl(lab, url);
      answers.push({ t, who: /^hello from (\S+)/.exec(body)?.[1] ?? NO_ANSWER });
      await sleep(Math.max(0, t + CURL_EVERY_MS - Date.now()));
    }
  })();
  // Handled here, rethrown by stop(): a lab torn down under the loop (Ctrl-C) must not crash
  // the process before its teardown is done.
  loop.catch(() => undefined);
  return {
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

/** "n1 ×9, then n3 ×31; 0 of 40 unanswered": who answered, in order. */
export function summarizeAnswers(answers: CurlAnswer[]): string {
  const runs: { who: string; n: number }[] = [];
  for (const a of answers) {
    const last = runs[runs.length - 1];
    if (last?.who === a.who) last.n++;
    else runs.push({ who: a.who, n: 1 });
  }
  const unanswered = answers.filter((a) => a.who === NO_ANSWER).length;
  return `${runs.map((r) => `${r.who} ×${r.n}`).join(', then ')}; ${unanswered} of ${answers.length} unanswered`;
}
