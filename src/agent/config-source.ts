// Where the agent's desired resources come from. The standalone agent reads a YAML file; the
// Kubernetes agent watches the API server (kube-config-source.ts). Both deliver whole validated sets.
import { readFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import { parseResources } from '../api/documents.ts';
import type { ResourceSet } from '../api/documents.ts';

export interface ConfigSource {
  /** The first set; rejects (with a ConfigError naming document and field) if it is invalid. */
  load(): Promise<ResourceSet>;
  /** Calls back on every later change: a new valid set, or the error that kept the old one. */
  watch(onChange: (set: ResourceSet) => void, onError: (e: unknown) => void): void;
  /** Asks for a re-read now (SIGHUP). */
  reload(): void;
  close(): void;
  /**
   * The node's labels when the source knows them (its Node object); they change with it, and a
   * change is delivered as a new set. Without it the agent's own (--node-label) count.
   */
  nodeLabels?(): Record<string, string>;
}

export class FileConfigSource implements ConfigSource {
  private readonly path: string;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastText: string | undefined;
  private onChange: ((set: ResourceSet) => void) | undefined;
  private onError: ((e: unknown) => void) | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<ResourceSet> {
    const text = await readFile(this.path, 'utf8');
    const set = parseResources(text, this.path);
    this.lastText = text;
    return set;
  }

  watch(onChange: (set: ResourceSet) => void, onError: (e: unknown) => void): void {
    this.onChange = onChange;
    this.onError = onError;
    // Watch the directory: editors and ConfigMap mounts replace the file instead of writing it.
    this.watcher = watch(dirname(this.path), (_event, name) => {
      if (name === null || name === basename(this.path) || name.startsWith('..')) this.reload();
    });
  }

  reload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reread(), 100);
  }

  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
  }

  private async reread(): Promise<void> {
    try {
      const text = await readFile(this.path, 'utf8');
      if (text === this.lastText) return;
      const set = parseResources(text, this.path);
      this.lastText = text;
      this.onChange?.(set);
    } catch (e) {
      this.onError?.(e);
    }
  }
}
