import type { Readable } from 'node:stream';

/** The client stopped sending a body for longer than the body timeout. */
export class BodyTimeoutError extends Error {
  readonly code = 'RECO_BODY_TIMEOUT';
}

/** The connection closed before the body was complete. */
export class ClientAbortError extends Error {
  readonly code = 'RECO_CLIENT_ABORT';
}

/**
 * The next chunk of a body (null at its end), waiting at most idleMs for it. Reading with
 * read() rather than async iteration lets a caller stop early without destroying the request,
 * so the connection survives to carry the answer.
 */
export function nextChunk(body: Readable, idleMs: number): Promise<Buffer | null> {
  const ready = body.read() as Buffer | null;
  if (ready !== null) return Promise.resolve(ready);
  if (body.readableEnded) return Promise.resolve(null);
  if (body.destroyed) return Promise.reject(new ClientAbortError('the client closed the connection during the upload'));
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onReadable = () => {
      const chunk = body.read() as Buffer | null;
      if (chunk !== null) {
        done();
        resolve(chunk);
      }
    };
    const onEnd = () => {
      done();
      resolve(null);
    };
    const onError = (err: Error) => {
      done();
      reject(body.destroyed ? new ClientAbortError(err.message) : err);
    };
    const onClose = () => {
      done();
      if (body.readableEnded) resolve(null);
      else reject(new ClientAbortError('the client closed the connection during the upload'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new BodyTimeoutError(`no body data for ${idleMs} ms`));
    }, idleMs);
    body.on('readable', onReadable);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/**
 * Reads and drops the rest of a body, up to `cap` bytes. Answering while the client is still
 * sending makes the server close a connection the client is writing to, and many clients
 * (fetch among them) then report a broken pipe instead of the answer. Resolves true when the
 * body was read to its end.
 */
export async function discardBody(body: Readable, cap: number, idleMs: number): Promise<boolean> {
  let seen = 0;
  try {
    for (;;) {
      const chunk = await nextChunk(body, idleMs);
      if (chunk === null) return true;
      seen += chunk.length;
      if (seen > cap) return false;
    }
  } catch {
    return false;
  }
}
