/**
 * Calls to the service's JSON API. When the service wants an API key (GET /dashboard/config.json
 * says so), the key is asked for once, kept in sessionStorage (this tab only, gone when it
 * closes) and sent as the bearer header; it never goes into a URL.
 */

const KEY = 'reco.apiKey';

/** The service's root: the page is served at <base>dashboard/. */
export const BASE = location.pathname.replace(/dashboard(\/.*)?$/, '');

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface DashboardConfig {
  apiKeyRequired: boolean;
  ratingMin: number;
  ratingMax: number;
  maxBatch: number;
}

let config: DashboardConfig | null = null;
let prompt: Promise<void> | null = null;

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

export async function loadConfig(): Promise<DashboardConfig> {
  if (!config) {
    const res = await fetch(`${BASE}dashboard/config.json`);
    config = (await res.json()) as DashboardConfig;
  }
  return config;
}

/** Shows the key dialog and resolves once a key that the service accepts is stored. */
export function askForKey(reason = ''): Promise<void> {
  prompt ??= new Promise<void>((resolve) => {
    const dialog = document.getElementById('key-dialog') as HTMLDialogElement;
    const form = document.getElementById('key-form') as HTMLFormElement;
    const input = document.getElementById('key-input') as HTMLInputElement;
    const error = document.getElementById('key-error') as HTMLElement;
    error.textContent = reason;
    input.value = '';
    const submit = (e: Event) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      // The key is checked against a cheap endpoint before it is kept.
      void fetch(`${BASE}stats`, { headers: { authorization: `Bearer ${key}` } }).then((res) => {
        if (res.status === 401) {
          error.textContent = 'The service refused this key.';
          return;
        }
        sessionStorage.setItem(KEY, key);
        form.removeEventListener('submit', submit);
        dialog.close();
        prompt = null;
        resolve();
      });
    };
    form.addEventListener('submit', submit);
    // Escape would close the dialog with no key: keep it open.
    dialog.addEventListener('cancel', (e) => e.preventDefault());
    dialog.showModal();
    input.focus();
  });
  return prompt;
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function readError(res: Response): Promise<ApiError> {
  let body: { code?: string; message?: string; details?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON: the status text stands in
  }
  return new ApiError(res.status, body.code ?? '', body.message ?? `${res.status} ${res.statusText}`, body.details);
}

/** One API call; a 401 (a key revoked meanwhile) asks for a key again and retries. */
export async function api<T>(method: string, path: string, body?: unknown, init: { raw?: BodyInit; contentType?: string } = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { ...authHeaders() };
    let payload: BodyInit | undefined;
    if (init.raw !== undefined) {
      payload = init.raw;
      headers['content-type'] = init.contentType ?? 'text/plain';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(BASE + path.replace(/^\//, ''), { method, headers, body: payload });
    if (res.status === 401 && attempt < 3) {
      forgetKey();
      await askForKey('The service asked for a key again.');
      continue;
    }
    if (!res.ok) throw await readError(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});

/**
 * An upload with progress (fetch cannot report the progress of a request body).
 * Resolves with the parsed answer or rejects with an ApiError.
 */
export function upload<T>(path: string, file: Blob, contentType: string, onProgress: (sent: number, total: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', BASE + path.replace(/^\//, ''));
    xhr.setRequestHeader('content-type', contentType);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, '', 'the upload failed: connection lost'));
    xhr.onload = () => {
      let body: { code?: string; message?: string; details?: unknown } | null;
      try {
        body = JSON.parse(xhr.responseText) as { code?: string; message?: string; details?: unknown };
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else reject(new ApiError(xhr.status, body?.code ?? '', body?.message ?? `${xhr.status} ${xhr.statusText}`, body?.details));
    };
    xhr.send(file);
  });
}
export const del = (path: string) => api<void>('DELETE', path);
