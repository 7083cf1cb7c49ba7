/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium` package, driven by
 * playwright-core) against the real service on a temporary data folder with a small synthetic
 * data set, with the API key off and on. It starts a job from the form, watches the learning
 * curve grow until the job succeeds and its model becomes active, opens a user's
 * recommendations, an item, imports a file and deletes a user; no console errors allowed.
 * Screenshots and the measured paint times go to test-artifacts/ (not committed).
 *
 * Without /usr/bin/chromium the tests are skipped with a message; `.ci/run` installs it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../bench/chromium';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { closeAfterwards, tempDataDir } from './helpers/app';
import { onRelease } from './helpers/cleanup';
import { syntheticRatings } from './helpers/synthetic';

const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts');
const KEY = 'browser-test-key-0123456789abcdef';

/** Settings of the job the test starts from the form: TF.js is slow enough on this data (a few hundred ms an epoch) for the page to see the curve grow. */
const FORM_SETTINGS: Record<string, string> = {
  d: '4',
  dp: '8',
  hidden: '16,16,16',
  lambda: '2',
  lr: '0.01',
  patience: '20',
  lrDecay: '1',
  averaging: '0',
};
const EPOCHS = 20;
/** NNMF alone trains two networks by default, one curve each. */
const NETWORKS = 2;

function describeBrowser(name: string, body: () => void): void {
  if (fs.existsSync(CHROMIUM)) describe(name, body);
  else describe(name, () => test.skip(`skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`, () => undefined));
}

async function service(env: Record<string, string>, dashboardDir: string): Promise<{ app: FastifyInstance; base: string }> {
  const config = loadConfig({ DATA_DIR: tempDataDir(), LOG_LEVEL: 'silent', ...env });
  const app = closeAfterwards(await buildApp({ config, logger: false, dashboardDir }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(env.API_KEYS ? { authorization: `Bearer ${env.API_KEYS}` } : {}),
  };
  const rows = syntheticRatings(120, 80, 25).map(([userId, itemId, rating]) => ({ userId, itemId, rating }));
  const res = await app.inject({ method: 'POST', url: '/ratings', headers, payload: JSON.stringify(rows) });
  if (res.statusCode !== 200) throw new Error(`import failed: ${res.body}`);
  await app.inject({
    method: 'PUT',
    url: '/items/i1',
    headers,
    payload: JSON.stringify({ title: 'The First Item', attributes: { genre: 'drama' } }),
  });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

async function browser(): Promise<BrowserContext> {
  const profile = tempDataDir();
  const context = await launchChromium(profile);
  onRelease(() => context.close());
  return context;
}

/** What went wrong in the page: console errors (failed loads included) and uncaught exceptions, with the URLs involved. */
function watch(page: Page) {
  const errors: string[] = [];
  const urls: string[] = [];
  const apiAuth: (string | undefined)[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    urls.push(r.url());
    if (r.url().includes('/stats')) apiAuth.push(r.headers().authorization);
  });
  page.on('dialog', (d) => void d.accept());
  return { errors, urls, apiAuth };
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

/** Evaluated in the page (as text: the tests compile without the DOM's types). */
const PAINT_TIMES = `(() => {
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  return { fcp: fcp ? fcp.startTime : null, domContentLoaded: nav.domContentLoadedEventEnd };
})()`;

const text = async (page: Page, testId: string) => (await page.getByTestId(testId).first().textContent())?.trim() ?? '';

describeBrowser('dashboard in headless Chromium', () => {
  let built: string;
  const timings: Record<string, unknown> = {};
  beforeAll(() => {
    built = tempDataDir();
    execFileSync(process.execPath, [path.join(__dirname, '..', 'src', 'dashboard', 'build.mjs'), built]);
  });
  afterAll(() => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, 'dashboard-timings.json'), JSON.stringify(timings, null, 2) + '\n');
  });

  for (const keyed of [false, true]) {
    const mode = keyed ? 'key-on' : 'key-off';
    test(`with the API key ${keyed ? 'on' : 'off'}: train from the form, watch the curve, explore a user, import and delete`, async () => {
      const { base } = await service(keyed ? { API_KEYS: KEY } : {}, built);
      const context = await browser();
      const page = context.pages()[0] ?? (await context.newPage());
      const seen = watch(page);

      // Overview (through the /dashboard redirect); the key is asked for once when the API needs one.
      await page.goto(`${base}/dashboard`);
      if (keyed) {
        await page.locator('#key-input').waitFor();
        await shot(page, `${mode}-key-dialog`);
        await page.locator('#key-input').fill(KEY);
        await page.locator('#key-form button[type=submit]').click();
      }
      await page.getByTestId('ratings').filter({ hasText: '3,000' }).waitFor();
      expect(await text(page, 'users')).toBe('120');
      expect(await text(page, 'ratings-since')).toBe('no model');
      const paint: { fcp: number | null; domContentLoaded: number } = await page.evaluate(PAINT_TIMES);
      timings[mode] = paint;
      // The shell paints before the script has run; the paint happens, and within the page's own load.
      expect(paint.fcp).not.toBeNull();
      expect(paint.fcp!).toBeGreaterThan(0);
      await shot(page, `${mode}-overview`);

      // Jobs: the form is built from the API's schema and the service's 400 message is shown as is.
      await page.locator('#nav a[data-page=jobs]').click();
      await page.locator('select[name=model]').selectOption('nnmf');
      await page.locator('details summary').click();
      await page.locator('select[name=engine]').selectOption('tfjs');
      for (const [name, value] of Object.entries(FORM_SETTINGS)) await page.locator(`input[name=${name}]`).fill(value);
      await page.locator('input[name=maxEpochs]').fill('many');
      await page.getByTestId('start-job').click();
      await page.getByTestId('start-message').filter({ hasText: 'RECO_ERR_VALIDATION' }).waitFor();
      // That 400 is the one failed load the browser reports; nothing else may.
      const expected400 = seen.errors.filter((e) => e.includes('status of 400') && e.includes('/jobs'));
      expect(expected400).toHaveLength(1);
      seen.errors.length = 0;
      await page.locator('input[name=maxEpochs]').fill(String(EPOCHS));
      await page.getByTestId('start-job').click();
      await page.getByTestId('start-message').getByRole('link').click();

      // The job page: the curve grows while the job runs, with an ETA, until it succeeds.
      const pointsSeen = new Set<number>();
      let etaSeen = false;
      let midShot = false;
      for (const end = Date.now() + 90_000; Date.now() < end;) {
        const status = await text(page, 'job-status');
        const points = Number(await page.getByTestId('curves').getAttribute('data-points'));
        if (points > 0) pointsSeen.add(points);
        if (status === 'running' && (await page.getByTestId('eta').count()) > 0) etaSeen = true;
        if (status === 'running' && points >= 3 && !midShot) {
          midShot = true;
          await shot(page, `${mode}-job-running`);
        }
        if (['succeeded', 'failed', 'cancelled'].includes(status)) break;
        await page.waitForTimeout(100);
      }
      expect(await text(page, 'job-status')).toBe('succeeded');
      await page
        .getByTestId('curves')
        .and(page.locator(`[data-points="${NETWORKS * EPOCHS}"]`))
        .waitFor();
      // One chart per network, named as the job's report names them.
      for (const label of ['nnmf', 'nnmf-2']) expect(await page.getByTestId(`curve-${label}`).count()).toBe(1);
      const memberNames = await page.getByTestId('job-members').locator('tbody tr td:first-child').allTextContents();
      expect(memberNames).toEqual(['nnmf', 'nnmf-2']);
      // Seen part-drawn while running, then whole: the curve grew in front of the page.
      expect([...pointsSeen].some((p) => p > 0 && p < NETWORKS * EPOCHS)).toBe(true);
      expect(etaSeen).toBe(true);
      await page.getByTestId('decision').filter({ hasText: 'activated' }).waitFor();
      await shot(page, `${mode}-job-done`);

      // Models: the new model is the active one, with its curve.
      await page.locator('#nav a[data-page=models]').click();
      await page.getByTestId('models-list').locator('.badge-succeeded', { hasText: 'active' }).waitFor();
      expect(await page.locator('[data-testid^=model-curve-] canvas').count()).toBeGreaterThan(0);
      await shot(page, `${mode}-models`);

      // A user: recommendations with how each was made, and predicted against actual.
      await page.locator('#nav a[data-page=users]').click();
      await page.locator('form.lookup input').fill('u1');
      await page.locator('form.lookup button').click();
      const recRows = page.getByTestId('recommendations').locator('tbody tr');
      await recRows.nth(19).waitFor();
      expect(await recRows.count()).toBe(20);
      expect(await page.getByTestId('recommendations').locator('.how').first().textContent()).toBe('trained model');
      await page.locator('text=/rated items, RMSE/').waitFor();
      expect(await page.getByTestId('scatter').locator('canvas').count()).toBe(1);
      await shot(page, `${mode}-user`);

      // An item: its facts and similar items.
      await page.goto(`${base}/dashboard/#/items/i1`);
      await page.getByTestId('similar').locator('tbody tr').first().waitFor();
      expect(await page.locator('h2', { hasText: 'The First Item' }).count()).toBe(1);
      await shot(page, `${mode}-item`);

      // Data: an import with a bad line reports it by line number; a user is deleted after confirmation.
      await page.locator('#nav a[data-page=data]').click();
      await page
        .getByTestId('import-file')
        .setInputFiles({ name: 'more.csv', mimeType: 'text/csv', buffer: Buffer.from('userId,itemId,rating\nnew1,i1,4\nnew1,i2,oops\nnew2,i3,5\n') });
      await page.getByTestId('import-result').waitFor();
      expect(await text(page, 'import-result')).toContain('2 inserted, 0 updated, 1 rejected');
      expect(await page.getByTestId('import-result').locator('tbody td').first().textContent()).toBe('3');
      await page.locator('input[name=userId]').fill('u2');
      await page.locator('button.danger', { hasText: 'Delete user' }).click();
      await page.getByTestId('delete-status').filter({ hasText: 'were deleted' }).waitFor();
      await shot(page, `${mode}-data`);

      // A running job is cancelled from its page (after the confirmation).
      const long = await fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(keyed ? { authorization: `Bearer ${KEY}` } : {}) },
        body: JSON.stringify({ type: 'train', model: 'nnmf', params: { engine: 'tfjs', maxEpochs: 500, patience: 500 } }),
      });
      expect(long.status).toBe(202);
      const { id: longId } = (await long.json()) as { id: string };
      await page.goto(`${base}/dashboard/#/jobs/${longId}`);
      await page.getByTestId('job-status').filter({ hasText: 'running' }).waitFor();
      await page.getByTestId('cancel-job').click();
      await page.getByTestId('job-status').filter({ hasText: 'cancelled' }).waitFor();
      expect(await page.getByTestId('cancel-job').count()).toBe(0);

      // Back on the overview, the change since the active model shows.
      await page.locator('#nav a[data-page=overview]').click();
      await page.getByTestId('ratings-since').filter({ hasText: /^[+-]/ }).waitFor();

      expect(seen.errors).toEqual([]);
      if (keyed) {
        // Sent as the bearer header on every call, never in a URL.
        expect(seen.urls.filter((u) => u.includes(KEY))).toEqual([]);
        expect(seen.apiAuth.length).toBeGreaterThan(0);
        expect(new Set(seen.apiAuth)).toEqual(new Set([`Bearer ${KEY}`]));
        expect(await page.evaluate("sessionStorage.getItem('reco.apiKey')")).toBe(KEY);
      } else {
        expect(seen.apiAuth.every((a) => a === undefined)).toBe(true);
      }
    }, 180_000);
  }
});
