/** A few DOM helpers: elements from tag, attributes and children; text is always set as text, never parsed as HTML. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

export function clear(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, ...children);
}

const intFormat = new Intl.NumberFormat('en');

export function int(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : intFormat.format(n);
}

export function num(n: number | null | undefined, digits = 4): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

export function table(headers: string[], rows: (Child | Child[])[][], cls = ''): HTMLTableElement {
  return h(
    'table',
    { class: cls },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c) => h('td', {}, c)),
        ),
      ),
    ),
  );
}

export function card(title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function stat(label: string, value: string, testId?: string): HTMLElement {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value', 'data-testid': testId }, value), h('div', { class: 'stat-label' }, label));
}

export function badge(text: string, kind = text): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

export function errorBox(err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  return h('div', { class: 'error-box', role: 'alert' }, code ? h('code', {}, code) : null, ' ', message);
}

export function link(href: string, text: string): HTMLAnchorElement {
  return h('a', { href }, text);
}

export const enc = encodeURIComponent;

/**
 * Runs `step` now and again after `delayMs()` each time, until `signal` fires or a step answers
 * false (nothing more to watch). A failed step shows its error in `problem`, replacing the last
 * one, and is tried again; a step that succeeds clears it. Resolves after the first step.
 */
export async function every(step: () => Promise<boolean | void>, delayMs: () => number, signal: AbortSignal, problem: HTMLElement): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener('abort', () => clearTimeout(timer));
  const run = async (): Promise<void> => {
    let again = true;
    try {
      again = (await step()) !== false;
      clear(problem);
    } catch (err) {
      if (signal.aborted) return;
      clear(problem, errorBox(err));
    }
    if (again && !signal.aborted) timer = setTimeout(() => void run(), delayMs());
  };
  await run();
}
