/**
 * Watches the device-plugins directory for the things that force a plugin to start over:
 * kubelet.sock recreated (kubelet restarted; it also wipes the directory, taking the plugin's
 * own socket with it) or the plugin's own socket removed. NVIDIA's plugin uses fsnotify for
 * this; here fs.watch gives prompt notice and a poll catches what inotify can miss (a
 * directory recreated, network filesystems, events coalesced while we were busy).
 */
import * as fs from "node:fs";

/** Identity of a file: inode plus change time, since inode numbers are reused after unlink. */
export type FileIdentity = string;

export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const st = fs.statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

export interface DirWatchOptions {
  dir: string;
  /** Called (not re-entrantly by the watcher itself) on any event and every poll tick. */
  onTick: () => void;
  pollIntervalMs: number;
}

/** Starts watching; returns the function that stops it. */
export function watchPluginDir({ dir, onTick, pollIntervalMs }: DirWatchOptions): () => void {
  let watcher: fs.FSWatcher | undefined;
  const arm = () => {
    if (watcher) return;
    try {
      watcher = fs.watch(dir, { persistent: false }, () => onTick());
      watcher.on("error", () => {
        // The directory went away (or inotify gave up): drop the watcher, the poll re-arms it.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined;
    }
  };
  arm();
  const timer = setInterval(() => {
    arm();
    onTick();
  }, pollIntervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    watcher?.close();
    watcher = undefined;
  };
}
