import { ApiError, del, upload } from '../api';
import { card, clear, errorBox, h, int, table } from '../dom';
import type { PageContext } from '../main';
import { choices, operation } from '../spec';
import type { ImportResult } from '../types';

const MAX_ERRORS_SHOWN = 200;

function importResult(r: ImportResult): HTMLElement {
  return h(
    'div',
    { 'data-testid': 'import-result' },
    h('p', {}, h('strong', {}, `${int(r.inserted)} inserted, ${int(r.updated)} updated, ${int(r.rejected)} rejected`), ` (format ${r.format})`),
    r.errors.length
      ? h(
          'div',
          { class: 'scroll' },
          table(
            ['line', 'why it was rejected'],
            r.errors.slice(0, MAX_ERRORS_SHOWN).map((e) => [String(e.line), e.reason]),
            'compact errors',
          ),
          r.errors.length > MAX_ERRORS_SHOWN
            ? h('p', { class: 'muted small' }, `the first ${MAX_ERRORS_SHOWN} of ${int(r.errors.length)} listed`)
            : null,
        )
      : null,
  );
}

async function importCard(): Promise<HTMLElement> {
  const formatParam = (await operation('/ratings/import', 'post')).parameters?.find((p) => p.name === 'format');
  const formats = (formatParam && choices(formatParam.schema)) ?? ['auto'];
  const format = h(
    'select',
    { name: 'format', 'aria-label': 'format' },
    formats.map((f) => h('option', { value: f, selected: f === 'auto' }, f === 'auto' ? 'detect from the content' : f)),
  );
  const atomic = h('input', { type: 'checkbox', name: 'atomic' });
  const fileInput = h('input', { type: 'file', name: 'file', 'data-testid': 'import-file' });
  const progress = h('progress', { max: 1, value: 0 });
  const status = h('div', { 'data-testid': 'import-status' });
  const drop = h('div', { class: 'drop', tabindex: 0 }, h('p', {}, 'Drop a ratings file here, or '), fileInput);

  const send = (file: File) => {
    clear(status, `Uploading ${file.name} (${int(file.size)} bytes)…`);
    progress.value = 0;
    const query = `format=${encodeURIComponent(format.value)}&atomic=${atomic.checked}`;
    upload<ImportResult>(`/ratings/import?${query}`, file, 'application/octet-stream', (sent, total) => {
      progress.value = total ? sent / total : 0;
      if (sent >= total) clear(status, `Uploaded ${file.name}; the service is storing it…`);
    })
      .then((r) => {
        progress.value = 1;
        clear(status, importResult(r));
      })
      .catch((err: unknown) => {
        // A rejected atomic import or a cut-off one says what was stored in details.
        const details = err instanceof ApiError ? (err.details as Partial<ImportResult> | undefined) : undefined;
        clear(
          status,
          errorBox(err),
          details && typeof details.inserted === 'number'
            ? importResult({ inserted: 0, updated: 0, rejected: 0, format: format.value, errors: [], ...details })
            : null,
        );
      });
  };
  fileInput.addEventListener('change', () => {
    if (fileInput.files?.[0]) send(fileInput.files[0]);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) send(file);
  });
  return card(
    'Import ratings',
    h(
      'div',
      { class: 'fields' },
      h('label', { class: 'field' }, h('span', {}, 'format'), format),
      h('label', { class: 'field inline' }, atomic, h('span', {}, 'all or nothing (atomic)')),
    ),
    drop,
    progress,
    status,
    h(
      'p',
      { class: 'muted small' },
      'CSV and TSV need a header userId,itemId,rating[,timestamp]; MovieLens files go as they are (u.data, ratings.dat).',
    ),
  );
}

function deleteCard(): HTMLElement {
  const input = h('input', { type: 'text', name: 'userId', placeholder: 'user ID', required: true, 'aria-label': 'user ID to delete' });
  const status = h('div', { 'data-testid': 'delete-status' });
  const form = h('form', { class: 'lookup' }, input, h('button', { type: 'submit', class: 'danger' }, 'Delete user'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (!id || !confirm(`Delete user ${id} and every one of their ratings? This cannot be undone.`)) return;
    del(`/users/${encodeURIComponent(id)}`)
      .then(() => clear(status, h('p', { class: 'ok' }, `User ${id} and their ratings were deleted. Models already trained are unchanged.`)))
      .catch((err: unknown) => clear(status, errorBox(err)));
  });
  return card(
    'Delete a user',
    h('p', { class: 'muted small' }, 'Removes the user and all their ratings from the store (the next training job no longer sees them).'),
    form,
    status,
  );
}

export async function dataPage({ main }: PageContext): Promise<void> {
  main.append(h('h1', {}, 'Data'), await importCard(), deleteCard());
}
