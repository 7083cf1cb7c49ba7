/**
 * A Prometheus histogram of request latency by method, route and status code.
 *
 * Observed on every request, so the hot path is a bucket search and three additions on a
 * series found once per route: prom-client's labelled histograms build and hash a label
 * object per observation, which costs a noticeable share of a small request.
 */
export class LatencyHistogram {
  private readonly routes: RouteLatency[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  /** The recorder for one route, made once when the route is registered. */
  route(method: string, route: string): RouteLatency {
    const r = new RouteLatency(method, route, this.buckets);
    this.routes.push(r);
    return r;
  }

  /** Prometheus text exposition of every series observed so far. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const r of this.routes) {
      for (const [status, s] of r.byStatus) {
        const labels = `method="${escape(r.method)}",route="${escape(r.route)}",status_code="${status}"`;
        let cumulative = 0;
        this.buckets.forEach((le, k) => {
          cumulative += s.counts[k];
          lines.push(`${this.name}_bucket{le="${le}",${labels}} ${cumulative}`);
        });
        lines.push(`${this.name}_bucket{le="+Inf",${labels}} ${s.count}`);
        lines.push(`${this.name}_sum{${labels}} ${s.sum}`);
        lines.push(`${this.name}_count{${labels}} ${s.count}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}

interface Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class RouteLatency {
  readonly byStatus = new Map<number, Series>();

  constructor(
    readonly method: string,
    readonly route: string,
    private readonly buckets: readonly number[],
  ) {}

  observe(status: number, seconds: number): void {
    let s = this.byStatus.get(status);
    if (!s) {
      s = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.byStatus.set(status, s);
    }
    let k = 0;
    while (k < this.buckets.length && seconds > this.buckets[k]) k++;
    s.counts[k]++;
    s.sum += seconds;
    s.count++;
  }
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
