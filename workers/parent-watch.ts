/**
 * KIOSK_PARENT_PID (set by `kiosk start` for the API and worker processes it starts): when that process is
 * gone (the launcher killed with SIGKILL; its children run in their own process groups, so nothing else
 * tells them), `onGone` is called once, as a SIGTERM would be: the process stops instead of serving on
 * without its launcher.
 */
export function watchParent(onGone: (why: string) => void, everyMs = 500): void {
  const text = process.env.KIOSK_PARENT_PID;
  if (text === undefined || text === '') return;
  const parent = Number(text);
  if (!Number.isInteger(parent) || parent <= 1 || process.ppid !== parent) return; // not started by it
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(`its launcher (pid ${parent}) is gone`);
  }, everyMs);
  timer.unref();
}
