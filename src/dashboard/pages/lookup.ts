import { h } from '../dom';

/** A small "open by ID" form that navigates to `#/<section>/<id>`. */
export function lookupForm(section: string, label: string, value = ''): HTMLElement {
  const input = h('input', { type: 'text', name: 'id', value, placeholder: label, required: true, 'aria-label': label });
  const form = h('form', { class: 'lookup' }, input, h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (id) location.hash = `#/${section}/${encodeURIComponent(id)}`;
  });
  return form;
}

/** An explorer page's heading and lookup form; returns the ID to show, or null after a hint when none was given. */
export function explorerHead(main: HTMLElement, title: string, section: string, label: string, id: string | undefined, hint: string): string | null {
  main.append(h('h1', {}, title), lookupForm(section, label, id ?? ''));
  if (id) return id;
  main.append(h('p', { class: 'muted' }, hint));
  return null;
}
