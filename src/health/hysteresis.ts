// Rise/fall hysteresis as keepalived applies it to checks: a check that is up goes down after
// `fall` consecutive failures, one that is down comes up after `rise` consecutive successes.
export class Hysteresis {
  private streak = 0;
  up: boolean;
  private readonly rise: number;
  private readonly fall: number;

  constructor(rise: number, fall: number, initiallyUp: boolean) {
    this.rise = rise;
    this.fall = fall;
    this.up = initiallyUp;
  }

  /** Records one result; returns true when the up/down state changed. */
  record(ok: boolean): boolean {
    if (ok === this.up) {
      this.streak = 0;
      return false;
    }
    this.streak++;
    if (this.streak < (this.up ? this.fall : this.rise)) return false;
    this.up = ok;
    this.streak = 0;
    return true;
  }
}
