// Resident-memory probes for the model suites (Linux /proc; elsewhere process.resourceUsage).
// `resetPeakRss()` writes 5 to /proc/self/clear_refs, which resets VmHWM to the current RSS: a
// child then reports the peak of the measured work (weights resident, load transients excluded).
import { readFileSync, writeFileSync } from 'node:fs';

function statusKb(field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Current resident set, MiB. */
export function rssMb(): number {
  return (statusKb('VmRSS') ?? process.memoryUsage().rss / 1024) / 1024;
}

/** Peak resident set since start or the last successful resetPeakRss(), MiB. */
export function peakRssMb(): number {
  return (statusKb('VmHWM') ?? process.resourceUsage().maxRSS) / 1024;
}

/** Resets the peak to the current RSS; false where the kernel does not allow it (peak then counts from start). */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
