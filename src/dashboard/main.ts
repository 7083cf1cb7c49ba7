import 'uplot/dist/uPlot.min.css';
import './style.css';
import { apiKey, askForKey, forgetKey, loadConfig } from './api';
import { clear, errorBox, h } from './dom';
import { overviewPage } from './pages/overview';
import { jobPage, jobsPage } from './pages/jobs';
import { modelsPage } from './pages/models';
import { userPage } from './pages/users';
import { itemPage } from './pages/items';
import { dataPage } from './pages/data';

/** What a page gets: where to draw, its route's parameters, and a signal that fires when the user leaves it. */
export interface PageContext {
  main: HTMLElement;
  params: string[];
  signal: AbortSignal;
}

type Page = (ctx: PageContext) => Promise<void> | void;

const routes: [RegExp, string, Page][] = [
  [/^\/?$/, 'overview', overviewPage],
  [/^\/jobs\/?$/, 'jobs', jobsPage],
  [/^\/jobs\/([^/]+)$/, 'jobs', jobPage],
  [/^\/models\/?$/, 'models', modelsPage],
  [/^\/users\/?$/, 'users', userPage],
  [/^\/users\/([^/]+)$/, 'users', userPage],
  [/^\/items\/?$/, 'items', itemPage],
  [/^\/items\/([^/]+)$/, 'items', itemPage],
  [/^\/data\/?$/, 'data', dataPage],
];

let leave: AbortController | null = null;

async function render(): Promise<void> {
  leave?.abort();
  const controller = new AbortController();
  leave = controller;
  const main = document.getElementById('main')!;
  const path = location.hash.replace(/^#/, '') || '/';
  const match = routes.map(([re, name, page]) => ({ m: re.exec(path), name, page })).find((r) => r.m);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) a.classList.toggle('active', a.dataset.page === match?.name);
  if (!match) {
    clear(main, h('p', {}, 'No such page. '), h('a', { href: '#/' }, 'Overview'));
    return;
  }
  clear(main);
  try {
    await match.page({ main, params: match.m!.slice(1).map((p) => decodeURIComponent(p)), signal: controller.signal });
  } catch (err) {
    if (!controller.signal.aborted) main.append(errorBox(err));
  }
}

function showAuth(required: boolean): void {
  const el = document.getElementById('auth')!;
  if (!required) {
    clear(el, h('span', { class: 'muted', title: 'API_KEYS is not set: the API is open' }, 'open API'));
    return;
  }
  clear(
    el,
    h('span', { class: 'muted' }, 'key set'),
    ' ',
    h(
      'button',
      {
        class: 'link',
        onclick: () => {
          forgetKey();
          void askForKey().then(render);
        },
      },
      'change key',
    ),
  );
}

async function start(): Promise<void> {
  const config = await loadConfig();
  if (config.apiKeyRequired && !apiKey()) await askForKey();
  showAuth(config.apiKeyRequired);
  window.addEventListener('hashchange', () => void render());
  await render();
}

void start();
