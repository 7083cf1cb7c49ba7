import crypto from 'node:crypto';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Bindings = Record<string, unknown>;

/**
 * A request's logger that becomes a real pino child (carrying the request id) only when
 * something is logged at an enabled level. Fastify makes a child per request; pino builds
 * one by serialising its bindings and rebinding every level method, which costs about a
 * microsecond on every request although most requests log nothing at the usual levels.
 */
class LazyChildLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | null = null;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
  ) {}

  private materialise(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings));
  }

  // pino's numeric level, read on each call so that a level changed at run time still applies.
  private enabled(levelValue: number): boolean {
    if (this.real !== null) return true;
    const threshold = (this.parent as { levelVal?: number }).levelVal;
    return threshold === undefined || levelValue >= threshold;
  }

  private write(level: Level, args: unknown[]): void {
    const target = this.materialise();
    // Reflect.apply: pino's overloaded log signature takes no plain argument list.
    Reflect.apply(target[level], target, args);
  }

  get level(): string {
    return (this.real ?? this.parent).level;
  }

  set level(level: string) {
    this.materialise().level = level;
  }

  fatal(...args: unknown[]): void {
    if (this.enabled(60)) this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    if (this.enabled(50)) this.write('error', args);
  }
  warn(...args: unknown[]): void {
    if (this.enabled(40)) this.write('warn', args);
  }
  info(...args: unknown[]): void {
    if (this.enabled(30)) this.write('info', args);
  }
  debug(...args: unknown[]): void {
    if (this.enabled(20)) this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    if (this.enabled(10)) this.write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: object): FastifyBaseLogger {
    return this.materialise().child(bindings, options);
  }
}

/** Fastify's childLoggerFactory: lazy children, except where a route sets its own level or serialisers. */
export const childLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = function (logger, bindings, opts) {
  if (opts.level || opts.serializers) return logger.child(bindings, opts);
  return new LazyChildLogger(logger, bindings);
};

/**
 * Request ids: the caller's X-Request-Id when it is a sane token, otherwise this process's
 * random prefix and a counter (unique across restarts without a UUID per request).
 */
export function requestIdGenerator(): (req: { headers: Record<string, string | string[] | undefined> }) => string {
  const prefix = crypto.randomBytes(6).toString('hex');
  let next = 0;
  return (req) => {
    const given = req.headers['x-request-id'];
    if (typeof given === 'string' && /^[\w.-]{1,64}$/.test(given)) return given;
    return `${prefix}-${(++next).toString(36)}`;
  };
}
