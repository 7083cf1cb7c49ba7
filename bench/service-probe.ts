/**
 * What the service benchmarks share: a server started from dist/ on a data folder of its own,
 * HTTP exchanges on a keep-alive agent, resident memory from /proc, and the responsiveness
 * probe (a request sent on a fixed period whether or not the previous one was answered).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { percentile } from './report';
import { startService, stopService } from './service';

let PORT = 18093;
let BASE = `http://127.0.0.1:${PORT}`;
export const PROBE_EVERY_MS = 50;
export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Exchange {
  status: number;
  body: string;
}

/** One HTTP exchange on the keep-alive agent; `body` may be a stream (an import). */
export function send(method: string, url: string, body?: string | fs.ReadStream, type = 'application/json'): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${BASE}${url}`, { method, agent, headers: body === undefined ? {} : { 'content-type': type } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    if (body === undefined || typeof body === 'string') req.end(body);
    else body.pipe(req);
  });
}

export async function json(method: string, url: string, body?: unknown): Promise<any> {
  const res = await send(method, url, body === undefined ? undefined : JSON.stringify(body));
  return JSON.parse(res.body);
}

export function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Highest resident memory seen while `work` runs, sampled every 100 ms (the process may exit first). */
export async function peakRss<T>(pid: number, work: Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, procStatus(pid, 'VmRSS'), procStatus(pid, 'VmHWM'))), 100);
  try {
    return { result: await work, peakMb: peak };
  } finally {
    clearInterval(timer);
  }
}

export function quantiles(ms: number[]) {
  return { samples: ms.length, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), max: percentile(ms, 1) };
}

/**
 * Sends a request every 50 ms whether or not the previous one has been answered (a stalled
 * server shows as long latencies, not as fewer samples) until stopped; returns the latencies.
 */
export function probe(
  method: string,
  url: string,
  body?: string,
  everyMs = PROBE_EVERY_MS,
): { stop: () => Promise<number[]>; slow: (overMs: number) => { atS: number; ms: number }[] } {
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const started = performance.now();
  const failures: string[] = [];
  const outstanding = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const t = performance.now();
    const p: Promise<void> = send(method, url, body).then(
      (r) => {
        if (r.status >= 500) failures.push(`${r.status}: ${r.body}`);
        latencies.push(performance.now() - t);
        sentAt.push((t - started) / 1000);
      },
      (err: Error) => void failures.push(err.message),
    );
    outstanding.add(p);
    void p.then(() => outstanding.delete(p));
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(outstanding);
      if (failures.length) throw new Error(`${url}: ${failures.length} failed probes, first: ${failures[0]}`);
      return latencies;
    },
    /** The samples over `overMs`, with when they were sent (seconds into the probing). */
    slow: (overMs) => latencies.flatMap((ms, k) => (ms > overMs ? [{ atS: Number(sentAt[k].toFixed(2)), ms: Number(ms.toFixed(1)) }] : [])),
  };
}

/**
 * Sends /health and /predict 20 times each, one at a time, before a probed phase: the first
 * answers after a model's activation include one-time work (lazily compiled code, the route's
 * serialiser, the predictor's first use) that belongs to no load. Returns the first latencies.
 */
export async function warmUp(predictBody: string): Promise<{ firstHealthMs: number; firstPredictMs: number }> {
  const first = { firstHealthMs: 0, firstPredictMs: 0 };
  for (let k = 0; k < 20; k++) {
    let t = performance.now();
    await send('GET', '/health');
    if (k === 0) first.firstHealthMs = performance.now() - t;
    t = performance.now();
    const res = await send('POST', '/predict', predictBody);
    if (res.status !== 200) throw new Error(`/predict answered ${res.status}: ${res.body}`);
    if (k === 0) first.firstPredictMs = performance.now() - t;
  }
  return first;
}

/** The server's metrics as name{labels} → value. */
export async function scrapeMetrics(): Promise<Map<string, number>> {
  const text = (await send('GET', '/metrics')).body;
  const out = new Map<string, number>();
  out.set('request_thread_cpu_seconds', requestThreadCpu());
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const LAG_RESOLUTION_S = 0.01;

/** The server started last (its request thread is the thread whose id is the process id). */
let serverPid = 0;

/** CPU seconds (user + system) the server's request thread has used, from /proc. */
function requestThreadCpu(): number {
  try {
    const fields = fs.readFileSync(`/proc/${serverPid}/task/${serverPid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The server side of every probed phase so far (see serverSide), in order. */
export const requestThread: Record<string, string | number>[] = [];

/**
 * What the request thread itself saw between two scrapes (the event-loop delay histogram is reset
 * by each scrape): its longest and 99th-percentile delay beyond the monitor's 10 ms timer, and
 * the garbage collections, with how many paused it 10 ms or more.
 */
export function serverSide(before: Map<string, number>, after: Map<string, number>) {
  const ms = (name: string) => Math.max(0, ((after.get(name) ?? LAG_RESOLUTION_S) - LAG_RESOLUTION_S) * 1000);
  const diff = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const kinds = ['minor', 'major', 'incremental', 'weakcb'];
  const gcCount = kinds.reduce((n, k) => n + diff(`nodejs_gc_duration_seconds_count{kind="${k}"}`), 0);
  const gcOver10 = kinds.reduce(
    (n, k) => n + diff(`nodejs_gc_duration_seconds_count{kind="${k}"}`) - diff(`nodejs_gc_duration_seconds_bucket{le="0.01",kind="${k}"}`),
    0,
  );
  const gcMs = kinds.reduce((n, k) => n + diff(`nodejs_gc_duration_seconds_sum{kind="${k}"}`) * 1000, 0);
  // The server's own timing of the probes (its latency histogram): how many took it over 5 and 10 ms.
  const slower = (method: string, route: string, le: string) =>
    diff(`http_request_duration_seconds_count{method="${method}",route="${route}",status_code="200"}`) -
    diff(`http_request_duration_seconds_bucket{le="${le}",method="${method}",route="${route}",status_code="200"}`);
  return {
    loopP99: ms('nodejs_eventloop_lag_p99_seconds'),
    loopMax: ms('nodejs_eventloop_lag_max_seconds'),
    gcs: gcCount,
    gcMs,
    gcOver10ms: gcOver10,
    threadCpuS: diff('request_thread_cpu_seconds'),
    serverOver5ms: slower('GET', '/health', '0.005') + slower('POST', '/predict', '0.005'),
    serverOver10ms: slower('GET', '/health', '0.01') + slower('POST', '/predict', '0.01'),
  };
}

/**
 * Runs `work` with /health and /predict probed; returns the work's result, the latency figures
 * and what the server's request thread saw meanwhile (event-loop delay, garbage collections).
 */
export async function probed<T>(label: string, predictBody: string, work: () => Promise<T>) {
  const before = await scrapeMetrics();
  // This process's own event-loop delay: a probe's answer handled late here is counted as latency.
  const clientLoop = monitorEventLoopDelay({ resolution: 1 });
  clientLoop.enable();
  const health = probe('GET', '/health');
  const predict = probe('POST', '/predict', predictBody);
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const latencies = { health: await health.stop(), predict: await predict.stop() };
  const rows = [
    { phase: label, probe: '/health', ...quantiles(latencies.health) },
    { phase: label, probe: '/predict', ...quantiles(latencies.predict) },
  ];
  clientLoop.disable();
  // When in the phase the slow probes were sent (its end: the commit, the memory returned...).
  const slow = { seconds, health: health.slow(10), predict: predict.slow(10) };
  const server = {
    ...serverSide(before, await scrapeMetrics()),
    clientLoopP99: clientLoop.percentile(99) / 1e6,
    clientLoopMax: clientLoop.max / 1e6,
  };
  requestThread.push({ phase: label, ...server });
  return { result, seconds, rows, server, latencies, slow };
}

type Probed = Awaited<ReturnType<typeof probed>>;

/**
 * One phase run several times (each `probed`), as one: the probes' latencies pooled (`samples`
 * counts them all, `runs` the repeats, `runMax` each run's maximum), and the request thread's
 * figures combined (the longest delay of any run, the highest of the runs' p99 delays, the sums
 * of collections and CPU). Replaces the runs' own rows in `requestThread`.
 */
export function pooled(label: string, runs: Probed[]) {
  const all = (k: 'health' | 'predict') => runs.flatMap((r) => r.latencies[k]);
  const runMax = (k: 'health' | 'predict') => runs.map((r) => quantiles(r.latencies[k]).max.toFixed(1)).join(' ');
  const rows = [
    { phase: label, probe: '/health', runs: runs.length, ...quantiles(all('health')), runMax: runMax('health') },
    { phase: label, probe: '/predict', runs: runs.length, ...quantiles(all('predict')), runMax: runMax('predict') },
  ];
  const s = runs.map((r) => r.server);
  const sum = (k: keyof (typeof s)[number]) => s.reduce((n, x) => n + x[k], 0);
  const server = {
    loopP99: Math.max(...s.map((x) => x.loopP99)),
    loopMax: Math.max(...s.map((x) => x.loopMax)),
    gcs: sum('gcs'),
    gcMs: sum('gcMs'),
    gcOver10ms: sum('gcOver10ms'),
    threadCpuS: sum('threadCpuS'),
    serverOver5ms: sum('serverOver5ms'),
    serverOver10ms: sum('serverOver10ms'),
    clientLoopP99: Math.max(...s.map((x) => x.clientLoopP99)),
    clientLoopMax: Math.max(...s.map((x) => x.clientLoopMax)),
  };
  for (const r of runs) {
    const at = requestThread.findIndex((row) => row.phase === r.rows[0].phase);
    if (at >= 0) requestThread.splice(at, 1);
  }
  requestThread.push({ phase: `${label} (${runs.length} runs)`, ...server });
  return { rows, server, seconds: runs.map((r) => r.seconds), slow: runs.map((r) => r.slow) };
}

let serverFlags: string[] = [];

/** Node flags added to every server started after this (a CPU profile, GC tracing...). */
export function useServerFlags(flags: string[]): void {
  serverFlags = flags;
}

/** The service on this module's port (imports up to 4 GB), its pid kept for the memory probes. */
export async function startServer(dataDir: string, extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const child = await startService(dataDir, PORT, { IMPORT_LIMIT: '4gb', ...extraEnv }, serverFlags);
  serverPid = child.pid!;
  return child;
}

export const stopServer = stopService;

/** The port the service is reached on. */
export function servicePort(): number {
  return PORT;
}

/** Another port than the default one (a benchmark that may run beside bench:scale). */
export function usePort(port: number): void {
  PORT = port;
  BASE = `http://127.0.0.1:${PORT}`;
}

/** Polls a job until it ends; returns its final view. */
export async function jobEnd(id: string): Promise<any> {
  for (;;) {
    const j = await json('GET', `/jobs/${id}`);
    if (!['queued', 'running'].includes(j.status)) return j;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
