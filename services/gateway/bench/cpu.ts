import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";

/** Programs whose CPU time the bench reports apart (all local to this machine). */
const servers = ["postgres", "nats-server", "redis-server"] as const;
type Server = (typeof servers)[number];

interface Snapshot {
  machineBusyMs: number;
  machineTotalMs: number;
  processMs: number;
  mainThreadMs: number;
  /** Per program, summed over its processes alive at the time (Linux `/proc`; else empty). */
  servers: Partial<Record<Server, number>>;
}

/** CPU used between two snapshots, in ms (of all cores together). */
export interface CpuUse {
  /** Every core's non-idle time, whoever used it (other work on the machine included). */
  machineBusyMs: number;
  /** Share of the machine's capacity that was busy, 0 to 1. */
  machineBusy: number;
  /** This Node process: every service, the raw writers and the client thread. */
  processMs: number;
  /** The main thread: the services (and the raw writers, in the raw series). */
  mainThreadMs: number;
  /** PostgreSQL (every backend, the bench's or not), NATS and Redis; undefined without /proc. */
  servers: Partial<Record<Server, number>>;
}

const ticksPerMs = 100 / 1_000; // USER_HZ is 100 on Linux

function serverTimes(): Partial<Record<Server, number>> {
  const found: Partial<Record<Server, number>> = {};
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid … utime stime: fields 14 and 15, counted after the comm's ")".
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close) as Server;
    if (!servers.includes(comm)) continue;
    const fields = stat.slice(close + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    found[comm] = (found[comm] ?? 0) + ticks / ticksPerMs;
  }
  return found;
}

export function cpuSnapshot(): Snapshot {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const used = times.user + times.nice + times.sys + times.irq;
    busy += used;
    total += used + times.idle;
  }
  const own = process.cpuUsage();
  const main = process.threadCpuUsage();
  return {
    machineBusyMs: busy,
    machineTotalMs: total,
    processMs: (own.user + own.system) / 1_000,
    mainThreadMs: (main.user + main.system) / 1_000,
    servers: serverTimes(),
  };
}

export function cpuSince(before: Snapshot): CpuUse {
  const after = cpuSnapshot();
  const machineBusyMs = after.machineBusyMs - before.machineBusyMs;
  const used: Partial<Record<Server, number>> = {};
  for (const name of servers) {
    const a = after.servers[name];
    const b = before.servers[name];
    // Backends that exited during the run take their time with them: never below 0.
    if (a !== undefined && b !== undefined) used[name] = Math.max(0, a - b);
  }
  return {
    machineBusyMs,
    machineBusy: machineBusyMs / Math.max(1, after.machineTotalMs - before.machineTotalMs),
    processMs: after.processMs - before.processMs,
    mainThreadMs: after.mainThreadMs - before.mainThreadMs,
    servers: used,
  };
}
