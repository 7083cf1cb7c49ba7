import { ApiError, get, post } from '../api';
import { badge, card, clear, enc, errorBox, every, h, int, link, num, seconds, table, when } from '../dom';
import type { PageContext } from '../main';
import { CurveSet, decisionText, scoreTable, sizeBars } from '../report';
import { choices, operation, type SchemaNode } from '../spec';
import { jobKind, type Job } from '../types';

const POLL_MS = 1000;
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** The request body schema of POST /jobs. */
async function jobSchema(): Promise<SchemaNode> {
  return (await operation('/jobs', 'post')).requestBody!.content['application/json'].schema;
}

/** A form field for one setting; its value is read back as the JSON the API expects, or left out when empty. */
function field(name: string, s: SchemaNode): { el: HTMLElement; read: () => unknown } {
  const label = (input: HTMLElement) => h('label', { class: 'field', title: s.description ?? '' }, h('span', {}, name), input);
  const options = choices(s);
  if (options || s.type === 'boolean') {
    const values = options ?? ['true', 'false'];
    const select = h(
      'select',
      { name },
      h('option', { value: '' }, 'default'),
      values.map((v) => h('option', { value: v }, v)),
    );
    return { el: label(select), read: () => (select.value === '' ? undefined : s.type === 'boolean' ? select.value === 'true' : select.value) };
  }
  if (s.type === 'object') {
    const area = h('textarea', { name, rows: 2, placeholder: '{ }' });
    return {
      el: label(area),
      read: () => {
        if (area.value.trim() === '') return undefined;
        try {
          return JSON.parse(area.value) as unknown;
        } catch {
          throw new Error(`${name}: not JSON`);
        }
      },
    };
  }
  const input = h('input', { name, type: 'text', placeholder: s.type === 'array' ? 'e.g. 50,50,50' : 'default', inputmode: 'decimal' });
  return {
    el: label(input),
    read: () => {
      const v = input.value.trim();
      if (v === '') return undefined;
      // Numbers go as numbers, anything else as typed: the service's validation has the last word.
      const asValue = (x: string) => (x !== '' && Number.isFinite(Number(x)) ? Number(x) : x);
      return s.type === 'array' ? v.split(',').map((x) => asValue(x.trim())) : asValue(v);
    },
  };
}

/** The start form, built from the API's own schema; the service validates and its 400 message is shown as is. */
async function startForm(onStarted: (job: { id: string }) => void): Promise<HTMLElement> {
  const schema = await jobSchema();
  const model = field('model', schema.properties!.model);
  const paramSchema = schema.properties!.params.properties ?? {};
  const main = ['maxEpochs', 'seed', 'validationFraction', 'evaluationFraction'].filter((k) => k in paramSchema);
  const fields = Object.entries(paramSchema).map(([name, s]) => ({ name, ...field(name, s) }));
  const message = h('div', { class: 'form-message', 'data-testid': 'start-message' });
  const button = h('button', { type: 'submit', 'data-testid': 'start-job' }, 'Start training');
  const form = h(
    'form',
    { class: 'start-form' },
    h(
      'div',
      { class: 'fields' },
      model.el,
      fields.filter((f) => main.includes(f.name)).map((f) => f.el),
    ),
    h(
      'details',
      {},
      h('summary', {}, 'More settings (defaults in the README)'),
      h(
        'div',
        { class: 'fields' },
        fields.filter((f) => !main.includes(f.name)).map((f) => f.el),
      ),
    ),
    h('div', { class: 'actions' }, button, message),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clear(message);
    let body: Record<string, unknown>;
    try {
      const params: Record<string, unknown> = {};
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) params[f.name] = v;
      }
      body = { type: 'train', params };
      const m = model.read();
      if (m !== undefined) body.model = m;
    } catch (err) {
      message.append(errorBox(err));
      return;
    }
    button.disabled = true;
    post<{ id: string }>('/jobs', body)
      .then((job) => {
        message.append(h('span', {}, 'Queued: ', link(`#/jobs/${enc(job.id)}`, job.id)));
        onStarted(job);
      })
      .catch((err: unknown) => message.append(errorBox(err)))
      .finally(() => (button.disabled = false));
  });
  return form;
}

const kindOf = (j: Job) => jobKind(j.params);

function jobRow(j: Job): (Node | string)[] {
  const p = j.progress;
  const running = j.status === 'running' && p ? `${p.phase}, epoch ${p.epoch}/${p.maxEpochs}` : '';
  const took = j.startedAt ? ((j.finishedAt ? Date.parse(j.finishedAt) : Date.now()) - Date.parse(j.startedAt)) / 1000 : null;
  return [
    link(`#/jobs/${enc(j.id)}`, j.id),
    badge(j.status),
    kindOf(j),
    running || (j.error ?? ''),
    when(j.createdAt),
    seconds(took),
    num(j.report?.blend.rmse ?? null),
    j.decision ? (j.decision.activated ? 'activated' : 'kept the active model') : '',
  ];
}

export async function jobsPage({ main, signal }: PageContext): Promise<void> {
  const list = h('div', { 'data-testid': 'jobs-list' });
  const problem = h('div', {});
  let busy = false;
  const refresh = async () => {
    const { jobs } = await get<{ jobs: Job[] }>('/jobs?limit=50');
    if (signal.aborted) return;
    clear(
      list,
      jobs.length === 0
        ? h('p', { class: 'muted' }, 'No jobs yet.')
        : table(['job', 'status', 'model kind', 'progress', 'created', 'duration', 'evaluation RMSE', 'decision'], jobs.map(jobRow)),
    );
    busy = jobs.some((j) => !FINISHED.has(j.status));
  };
  // A job just started shows at once; the list is then polled fast while something is queued or
  // running, slowly otherwise (a scheduled job may appear).
  main.append(
    h('h1', {}, 'Jobs'),
    problem,
    card('Start a training job', await startForm(() => void refresh().catch(() => undefined))),
    card('Jobs', list),
  );
  await every(refresh, () => (busy ? POLL_MS : 10 * POLL_MS), signal, problem);
}

export async function jobPage({ main, params, signal }: PageContext): Promise<void> {
  const id = params[0];
  const head = h('div', { class: 'job-head' });
  const bar = h('div', { class: 'bar', 'data-testid': 'job-progress' });
  const curves = new CurveSet();
  const members = h('div', { 'data-testid': 'job-members' });
  const outcome = h('div', {});
  const problem = h('div', {});
  signal.addEventListener('abort', () => curves.destroy());
  main.append(
    h('h1', {}, 'Job ', h('code', {}, id)),
    card('Status', head, problem, h('div', { class: 'bar-track wide' }, bar)),
    card('Learning curves (RMSE per epoch)', curves.el, members),
    outcome,
  );

  const cancel = h('button', { class: 'danger', 'data-testid': 'cancel-job' }, 'Cancel job');
  cancel.addEventListener('click', () => {
    if (!confirm(`Cancel job ${id}?`)) return;
    cancel.disabled = true;
    // The answer comes once the job has stopped; the polling shows it.
    post<Job>(`/jobs/${enc(id)}/cancel`).catch((err: unknown) => clear(problem, errorBox(err)));
  });

  const poll = async (): Promise<boolean> => {
    let job: Job;
    try {
      job = await get<Job>(`/jobs/${enc(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        clear(head, errorBox(err));
        return false;
      }
      throw err;
    }
    if (signal.aborted) return false;
    const p = job.progress;
    const done = FINISHED.has(job.status);
    clear(
      head,
      h(
        'p',
        {},
        h('span', { 'data-testid': 'job-status' }, badge(job.status)),
        ' ',
        kindOf(job),
        p ? ` · ${p.phase}` : '',
        p && p.maxEpochs ? ` · epoch ${p.epoch} of at most ${p.maxEpochs}` : '',
        p ? ` · elapsed ${seconds(p.elapsedSeconds)}` : '',
        !done && p?.etaSeconds !== null && p?.etaSeconds !== undefined
          ? h('span', { 'data-testid': 'eta' }, ` · about ${seconds(p.etaSeconds)} left`)
          : '',
      ),
      h(
        'p',
        { class: 'muted small' },
        `created ${when(job.createdAt)}`,
        job.startedAt ? ` · started ${when(job.startedAt)}` : '',
        job.finishedAt ? ` · finished ${when(job.finishedAt)}` : '',
        ` · trigger ${job.trigger}`,
      ),
      job.error ? errorBox(job.error) : null,
      done ? null : cancel,
    );
    bar.style.width = `${done ? 100 : p && p.maxEpochs ? Math.min(100, (p.epoch / p.maxEpochs) * 100) : 0}%`;
    if (p) {
      curves.update(p.history);
      if (p.members && p.members.length > 0) {
        clear(
          members,
          table(
            ['member', 'epochs', 'best epoch', 'best validation RMSE', 'time'],
            p.members.map((m) => [m.label ?? m.kind, int(m.epochs), int(m.bestEpoch), num(m.validationRmse), seconds(m.seconds)]),
            'compact',
          ),
        );
      }
    }
    if (done) {
      clear(
        outcome,
        job.report || job.modelId ? card('Evaluation (held-out ratings)', scoreTable(job.report)) : null,
        job.modelId ? card('Promotion', h('p', {}, 'Model ', link('#/models', job.modelId)), decisionText(job.decision)) : null,
      );
      sizeBars(outcome);
      return false;
    }
    return true;
  };
  await every(poll, () => POLL_MS, signal, problem);
}
