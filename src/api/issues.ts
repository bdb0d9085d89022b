// Validation problems carry where they are (which document, which field) and why, so a user can
// fix a manifest without guessing. Validators collect all problems instead of stopping at the
// first one.

export interface Issue {
  /** The document, e.g. `VrrpInstance/vi-51 (document 2 of config.yaml)`. */
  where: string;
  /** Dotted field path, e.g. `spec.virtualIPs[1]`. */
  field: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: Issue[];
  constructor(issues: Issue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: Issue): string {
  return `${i.where}: ${i.field}: ${i.message}`;
}

/** Collects issues for one document; `at` builds child paths. */
export class IssueList {
  readonly issues: Issue[] = [];
  readonly where: string;
  constructor(where: string) {
    this.where = where;
  }
  add(field: string, message: string): void {
    this.issues.push({ where: this.where, field, message });
  }
}
